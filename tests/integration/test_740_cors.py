"""Cross-origin requests at the HTTP level (TaskBoardAllowOrigin; docs/configuration.md "Cross-origin front ends"):
what a browser's preflight and its real requests get, sent with python's http.client so that every
header is seen exactly as httpd wrote it.

- TestCors: listed origins get Access-Control-Allow-Origin (their own) with Allow-Credentials on
  every answer of the load, sync and events handlers, error answers included (413 for a body
  over LimitRequestBody too), and their preflights 204 with the handler's methods; other origins get no
  CORS headers and a JSON 403 for their preflights; Vary: Origin wherever the directive applies;
  an inner location's list replaces the outer one; the status handler stays out of it.
- TestCorsBasicAuth: behind Basic auth a preflight (sent without credentials) reaches the module
  with <LimitExcept OPTIONS> and with <If "%{REQUEST_METHOD} == 'OPTIONS'">, and gets httpd's 401
  with a plain Require valid-user; the real requests still need the password.
"""

import base64
import http.client
import json
from urllib.parse import quote

import boards
import tbtest

ORIGIN = "http://app.example:5173"
# written in the configuration with upper case and the default port: compared as browsers send it
SECOND = "https://board.example.com"
STRANGER = "https://evil.example"


def request(httpd, method, path, headers=None, body=None):
    """One request on a new connection; returns (status, headers as a list of pairs, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", httpd.port, timeout=30)
    try:
        hdrs = {"X-TB-Test": httpd.env.current_test or "-"}
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


def header(headers, name):
    """The values of one header (all of its lines), or [] when absent."""
    return [v for k, v in headers if k.lower() == name.lower()]


def vary(headers):
    return {v.strip().lower() for line in header(headers, "Vary") for v in line.split(",")}


def preflight(httpd, path, origin, method="POST", req_headers="content-type", extra=None):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if req_headers:
        h["Access-Control-Request-Headers"] = req_headers
    h.update(extra or {})
    return request(httpd, "OPTIONS", path, h)


def assert_allowed(headers, origin, what):
    assert header(headers, "Access-Control-Allow-Origin") == [origin], (what, headers)
    assert header(headers, "Access-Control-Allow-Credentials") == ["true"], (what, headers)
    assert "origin" in vary(headers), (what, headers)


def assert_no_cors(headers, what):
    names = {k.lower() for k, _ in headers}
    assert not {n for n in names if n.startswith("access-control-")}, (what, headers)


def assert_preflight_ok(status, headers, body, origin, methods, what):
    assert status == 204, (what, status, headers, body)
    assert body == b"", (what, body)
    assert_allowed(headers, origin, what)
    assert header(headers, "Access-Control-Allow-Methods") == [methods], (what, headers)
    allowed = {h.strip().lower() for h in header(headers, "Access-Control-Allow-Headers")[0]
               .split(",")}
    # what the Bryntum client sends, what jQuery-style clients add, the stream's resume header
    assert {"content-type", "x-requested-with", "last-event-id"} <= allowed, (what, headers)
    max_age = header(headers, "Access-Control-Max-Age")
    assert len(max_age) == 1 and int(max_age[0]) > 0, (what, headers)


def json_error(status, headers, body, code, kind):
    assert status == code, (status, body)
    assert header(headers, "Content-Type")[0].startswith("application/json"), headers
    doc = tbtest.jloads(body.decode())
    assert doc["success"] is False and doc["code"] == code and doc["type"] == kind, doc
    assert isinstance(doc["message"], str) and doc["message"], doc
    assert not tbtest.RE_LEAK.search(body.decode()), body
    return doc


class TestCors:
    CONF = (tbtest.sample_test_conf()
            + "<Location /api>\n"
            f"    TaskBoardAllowOrigin {ORIGIN}\n"
            "    TaskBoardAllowOrigin HTTPS://Board.Example.com:443\n"
            "</Location>\n"
            # httpd's limit, which the module applies itself to answer with its own 413
            "<Location /api/sync>\n    LimitRequestBody 20000\n</Location>\n"
            "<Location /taskboard-status>\n    SetHandler taskboard-status\n</Location>\n"
            # a second board: no directive at /m, one origin at /m, another at /m/sync
            + boards.board_conf("/m", extra=f"    TaskBoardAllowOrigin {ORIGIN}\n")
            + f"<Location /m/sync>\n    TaskBoardAllowOrigin {SECOND}\n</Location>\n"
            + boards.board_conf("/plain"))
    BOARD = tbtest.sample_test_conf()

    def test_tb_740_01(self, httpd):
        # a preflight from a listed origin, for each handler: 204, that origin (never *), with
        # credentials, the handler's methods and the request headers the client sends
        for path, methods, asked in (("/api/load", "GET, POST", "GET"),
                                     ("/api/sync", "POST", "POST"),
                                     ("/api/events", "GET", "GET")):
            for origin in (ORIGIN, SECOND):
                status, headers, body = preflight(httpd, path, origin, method=asked)
                assert_preflight_ok(status, headers, body, origin, methods, f"{path} {origin}")

    def test_tb_740_02(self, httpd):
        # a preflight from an origin not listed, or one the directive would refuse: the module's
        # JSON 403, no CORS header, so the browser never sends the request
        for origin in (STRANGER, "null", "http://app.example:5174", "https://app.example:5173",
                       "http://app.example:5173/"):
            for path, kind in (("/api/sync", "sync"), ("/api/load", "load"),
                               ("/api/events", "events")):
                status, headers, body = preflight(httpd, path, origin)
                json_error(status, headers, body, 403, kind)
                assert_no_cors(headers, f"{path} {origin}")
                assert "origin" in vary(headers), headers

    def test_tb_740_03(self, httpd, db):
        # the real requests of a listed origin: the load (its answer and Vary with the gzip
        # variant), a sync that saves, and the event stream all carry the origin's headers
        data = json.dumps({"type": "load", "requestId": 1, "stores": ["tasks"]})
        status, headers, body = request(httpd, "GET", "/api/load?data=" + quote(data, safe=""),
                                        {"Origin": ORIGIN, "Accept-Encoding": "gzip"})
        assert status == 200, body
        assert_allowed(headers, ORIGIN, "load")
        assert {"origin", "accept-encoding"} <= vary(headers), headers

        with db.snapshot("tasks"):
            rev = db.revision(self.board)
            status, headers, body = request(
                httpd, "POST", "/api/sync",
                {"Origin": SECOND, "Content-Type": "application/json"},
                json.dumps({"type": "sync", "requestId": 2, "revision": rev, "tasks": {
                    "updated": [{"id": 1, "name": "via CORS"}]}}))
            assert status == 200, body
            assert_allowed(headers, SECOND, "sync")
            assert db.scalar("SELECT name FROM tasks WHERE id = 1") == "via CORS"

        conn = http.client.HTTPConnection("127.0.0.1", httpd.port, timeout=30)
        try:
            conn.request("GET", "/api/events", headers={"Origin": ORIGIN,
                                                        "Accept": "text/event-stream"})
            resp = conn.getresponse()
            assert resp.status == 200
            assert resp.getheader("Content-Type").startswith("text/event-stream")
            assert_allowed(resp.getheaders(), ORIGIN, "events")
            assert b"event: ready" in resp.read1(4096)
        finally:
            conn.close()

    def test_tb_740_04(self, httpd, db):
        # error answers carry the headers too, so that the page can read them: 405, 400, and
        # 413 for a body over httpd's LimitRequestBody
        with tbtest.Unchanged(db):
            status, headers, body = request(httpd, "GET", "/api/sync", {"Origin": ORIGIN})
            json_error(status, headers, body, 405, "sync")
            assert_allowed(headers, ORIGIN, "405")
            status, headers, body = request(httpd, "POST", "/api/sync",
                                            {"Origin": ORIGIN, "Content-Type":
                                             "application/json"}, "{not json")
            json_error(status, headers, body, 400, "sync")
            assert_allowed(headers, ORIGIN, "400")
            # a body over LimitRequestBody gets the module's 413 (as JSON, with the headers)
            # before httpd would refuse it with its own page, which loses them
            status, headers, body = request(httpd, "POST", "/api/sync",
                                            {"Origin": ORIGIN, "Content-Type":
                                             "application/json"}, "x" * 30000)
            doc = json_error(status, headers, body, 413, "sync")
            assert "20000" in doc["message"], doc
            assert_allowed(headers, ORIGIN, "413 of LimitRequestBody")

    def test_tb_740_05(self, httpd):
        # an origin not listed gets the answer (CORS is the browser's rule: it hides it from the
        # page) but no CORS header; a request without Origin gets none either; both Vary
        for hdrs in ({"Origin": STRANGER}, {}):
            status, headers, body = request(httpd, "GET", "/api/load", hdrs)
            assert status == 200, body
            assert_no_cors(headers, hdrs)
            assert "origin" in vary(headers), headers
        # an OPTIONS that is no preflight (no Access-Control-Request-Method) names the methods
        status, headers, body = request(httpd, "OPTIONS", "/api/sync", {"Origin": ORIGIN})
        assert status == 200 and header(headers, "Allow") == ["POST, OPTIONS"], headers

    def test_tb_740_08(self, httpd, db):
        # a page of another site can make the browser POST a text/plain or form sync without a
        # preflight: a change from an origin that is neither the server's nor listed is refused
        # (403, nothing written); the server's own origin, a listed one and clients without
        # Origin (not browsers) are served
        move = lambda rid: json.dumps({"type": "sync", "requestId": rid, "tasks": {
            "updated": [{"id": 1, "weight": 700 + rid}]}})
        with tbtest.Unchanged(db):
            for origin, ctype in ((STRANGER, "text/plain"), ("null", "text/plain"),
                                  (STRANGER, "application/x-www-form-urlencoded"),
                                  (f"https://127.0.0.1:{httpd.port}", "text/plain")):
                body = move(1) if ctype == "text/plain" else "data=" + quote(move(1))
                status, headers, answer = request(httpd, "POST", "/api/sync", {
                    "Origin": origin, "Content-Type": ctype}, body)
                doc = json_error(status, headers, answer, 403, "sync")
                assert "origin" in doc["message"], doc
                assert_no_cors(headers, origin)
        for rid, hdrs in ((2, {"Origin": f"http://127.0.0.1:{httpd.port}"}),
                          (3, {"Origin": ORIGIN}), (4, {})):
            status, headers, answer = request(httpd, "POST", "/api/sync", {
                **hdrs, "Content-Type": "text/plain"}, move(rid))
            assert status == 200, (hdrs, answer[:300])
            assert db.scalar("SELECT weight FROM tasks WHERE id = 1") == 700 + rid
        # reading is not a change: a GET or POST load from a stranger is answered (the browser
        # hides it from that page)
        status, headers, answer = request(httpd, "POST", "/api/load", {
            "Origin": STRANGER, "Content-Type": "text/plain"}, "")
        assert status == 200, answer[:300]

    def test_tb_740_06(self, httpd):
        # the directive applies where it is configured: an inner location's list replaces the
        # outer one, and a board without it answers no cross-origin request
        status, headers, body = preflight(httpd, "/m/load", ORIGIN, method="GET")
        assert_preflight_ok(status, headers, body, ORIGIN, "GET, POST", "/m/load")
        json_error(*preflight(httpd, "/m/load", SECOND, method="GET"), 403, "load")
        status, headers, body = preflight(httpd, "/m/sync", SECOND)
        assert_preflight_ok(status, headers, body, SECOND, "POST", "/m/sync")
        json_error(*preflight(httpd, "/m/sync", ORIGIN), 403, "sync")

        status, headers, body = preflight(httpd, "/plain/sync", ORIGIN)
        json_error(status, headers, body, 403, "sync")
        status, headers, body = request(httpd, "GET", "/plain/load", {"Origin": ORIGIN})
        assert status == 200 and "origin" not in vary(headers), headers
        assert_no_cors(headers, "/plain/load")

    def test_tb_740_07(self, httpd):
        # the status page is for administrators: no CORS, a preflight gets only Allow
        status, headers, body = preflight(httpd, "/taskboard-status", ORIGIN, method="GET")
        assert status == 200 and header(headers, "Allow") == ["GET, OPTIONS"], (status, headers)
        assert_no_cors(headers, "status")
        status, headers, body = request(httpd, "GET", "/taskboard-status?json",
                                        {"Origin": ORIGIN})
        assert status == 200
        assert_no_cors(headers, "status")


USERS = {"nora": "board-secret"}


def auth_header(user, password):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class TestCorsBasicAuth:
    """docs/configuration.md's configurations for a board behind Basic auth, and the one that fails."""

    @classmethod
    def prepare_class(cls, httpd):
        htpasswd = tbtest.write_htpasswd(httpd, USERS)
        auth = (f'    AuthType Basic\n    AuthName "board"\n    AuthUserFile "{htpasswd}"\n'
                f"    TaskBoardAllowOrigin {ORIGIN}\n")
        cls.CONF = (
            tbtest.auth_mods()
            # preflights exempted with LimitExcept
            + boards.board_conf("/la", extra=auth + "    <LimitExcept OPTIONS>\n"
                                "        Require valid-user\n    </LimitExcept>\n")
            # preflights exempted with If
            + boards.board_conf("/if", extra=auth + "    Require valid-user\n")
            + "<Location /if>\n    <If \"%{REQUEST_METHOD} == 'OPTIONS'\">\n"
            "        Require all granted\n    </If>\n</Location>\n"
            # not exempted: httpd answers the preflight before the module
            + boards.board_conf("/req", extra=auth + "    Require valid-user\n"))

    def test_tb_740_10(self, httpd):
        # with either exemption, the preflight (no credentials) gets the module's 204, and one
        # from an origin not listed its 403
        for base in ("/la", "/if"):
            status, headers, body = preflight(httpd, f"{base}/sync", ORIGIN)
            assert_preflight_ok(status, headers, body, ORIGIN, "POST", base)
            json_error(*preflight(httpd, f"{base}/sync", STRANGER), 403, "sync")

    def test_tb_740_11(self, httpd, db):
        # the real requests still need the password: without it httpd's 401 (no data), in the
        # module's JSON and with the origin's headers so that the page can tell; with it the
        # answer and the origin's headers
        httpd.expect_log("AH01618", "AH01617")     # user not found / password mismatch
        for base in ("/la", "/if"):
            status, headers, body = request(httpd, "GET", f"{base}/load", {"Origin": ORIGIN})
            assert b"tasks" not in body, (base, body[:200])
            json_error(status, headers, body, 401, "load")
            assert_allowed(headers, ORIGIN, base)
            assert header(headers, "WWW-Authenticate"), headers
            status, headers, body = request(httpd, "GET", f"{base}/load",
                                            {"Origin": ORIGIN, **auth_header("nora", "wrong")})
            assert status == 401, (base, status)
            status, headers, body = request(httpd, "GET", f"{base}/load",
                                            {"Origin": ORIGIN, **auth_header("nora", USERS["nora"])})
            assert status == 200 and json.loads(body)["success"] is True, (base, body[:200])
            assert_allowed(headers, ORIGIN, base)
            # a plain OPTIONS (no preflight) without credentials reveals only the methods
            status, headers, body = request(httpd, "OPTIONS", f"{base}/load")
            assert status == 200 and body == b"" and header(headers, "Allow"), (base, headers)

    def test_tb_740_12(self, httpd):
        # without the exemption the browser's preflight meets httpd's 401: a preflight that is
        # not a 2xx fails in the browser whatever its headers, the reason docs/configuration.md asks for the
        # exemption (the 401 is the module's JSON with the origin's headers all the same)
        status, headers, body = preflight(httpd, "/req/sync", ORIGIN)
        json_error(status, headers, body, 401, "sync")
        assert not header(headers, "Access-Control-Allow-Methods"), headers


class TestDnsRebinding:
    """docs/configuration.md "DNS rebinding": a board without authentication, served from a name-based virtual
    host after a catch-all first one, refuses a sync sent under a hostile Host name (what a
    rebound name makes the browser send, with a matching Origin), and takes the same sync under
    its own name."""

    NAME = "board.intranet.example"

    @classmethod
    def prepare_class(cls, httpd):
        addr = f"127.0.0.1:{httpd.port}"
        cls.CONF = (f"<VirtualHost {addr}>\n    ServerName catch-all.invalid\n"
                    "    <Location />\n        Require all denied\n    </Location>\n"
                    "</VirtualHost>\n"
                    f"<VirtualHost {addr}>\n    ServerName {cls.NAME}\n"
                    + boards.board_conf("/api") + "</VirtualHost>\n")

    def test_tb_740_20(self, httpd, db):
        httpd.expect_log("AH01630")         # client denied by server configuration
        body = json.dumps({"type": "sync", "requestId": 74020, "tasks": {
            "updated": [{"id": 1, "name": "rebound"}]}})
        with db.snapshot("tasks"):
            before = db.scalar("SELECT name FROM tasks WHERE id = 1")
            evil = "evil.example:%d" % httpd.port
            status, _, _ = request(httpd, "POST", "/api/sync", {
                "Host": evil, "Origin": f"http://{evil}", "Content-Type": "text/plain"}, body)
            assert status == 403
            assert db.scalar("SELECT name FROM tasks WHERE id = 1") == before
            own = "%s:%d" % (self.NAME, httpd.port)
            status, _, answer = request(httpd, "POST", "/api/sync", {
                "Host": own, "Origin": f"http://{own}", "Content-Type": "application/json"}, body)
            assert status == 200, answer[:300]
            assert db.scalar("SELECT name FROM tasks WHERE id = 1") == "rebound"
