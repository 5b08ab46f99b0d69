"""Load requests the module must refuse: the status, and a JSON error body
{"success":false,"type":"load","requestId":...,"message":...,"code":<status>} that reveals nothing of
the database or the server (tbtest.check_error)."""

import json
import urllib.parse

import pytest

import boards
from tbtest import MISSING, check_error, check_load


def q_data(package: str) -> str:
    return "data=" + urllib.parse.quote(package, safe="")


# Packages that are JSON but not a load package of the right shape: (id, package, requestId echo)
BAD_SHAPES = [
    ("array", "[]", MISSING),
    ("array-of-package", '[{"type":"load","requestId":1}]', MISSING),
    ("string", '"load"', MISSING),
    ("number", "42", MISSING),
    ("null", "null", MISSING),
    ("stores-string", '{"type":"load","requestId":31,"stores":"tasks"}', 31),
    ("stores-object", '{"type":"load","requestId":32,"stores":{"tasks":1}}', 32),
    ("stores-number", '{"type":"load","requestId":33,"stores":5}', 33),
    ("entry-number", '{"type":"load","requestId":34,"stores":[1]}', 34),
    ("entry-null", '{"type":"load","requestId":35,"stores":["tasks",null]}', 35),
    ("entry-array", '{"type":"load","requestId":36,"stores":[["tasks"]]}', 36),
    ("entry-no-id", '{"type":"load","requestId":37,"stores":[{"page":1,"pageSize":2}]}', 37),
    ("entry-id-number", '{"type":"load","requestId":38,"stores":[{"storeId":5}]}', 38),
    ("page-0", '{"type":"load","requestId":39,"stores":[{"storeId":"tasks","page":0,"pageSize":2}]}',
     39),
    ("page-negative",
     '{"type":"load","requestId":40,"stores":[{"storeId":"tasks","page":-1,"pageSize":2}]}', 40),
    ("pagesize-string",
     '{"type":"load","requestId":41,"stores":[{"storeId":"tasks","page":1,"pageSize":"abc"}]}', 41),
    ("pagesize-0", '{"type":"load","requestId":42,"stores":[{"storeId":"tasks","page":1,"pageSize":0}]}',
     42),
    ("type-sync", '{"type":"sync","requestId":43,"revision":1,"tasks":{"updated":[{"id":1}]}}', 43),
    ("type-other", '{"type":"foo","requestId":44}', 44),
]

MALFORMED = [
    ("truncated", b'{"type":"load","requestId":1,"stores":["tasks"'),
    ("bare-word", b"{bad"),
    ("trailing-garbage", b'{"type":"load","requestId":1} x'),
    ("two-packages", b'{"type":"load"}{"type":"load"}'),
    ("single-quotes", b"{'type':'load'}"),
    ("invalid-utf8", b'{"type":"load","requestId":"\xff\xfe"}'),
    ("deep-nesting", b"[" * 100000),
]


class TestLoadErrors:

    CONF = boards.board_conf()

    @pytest.mark.parametrize("case", MALFORMED, ids=[c[0] for c in MALFORMED])
    def test_tb_300_01(self, httpd, case):
        # malformed JSON, in each of the three transports
        name, raw = case
        if len(raw) < 1000:     # a long URL would meet httpd's own LimitRequestLine first
            check_error(httpd.get("/api/load?data=" + urllib.parse.quote_from_bytes(raw, safe="")),
                        400)
        check_error(httpd.post("/api/load", data=raw,
                               headers={"Content-Type": "application/json"}), 400)
        check_error(httpd.post("/api/load", data=raw, headers={"Content-Type": "text/plain"}), 400)
        form = b"data=" + urllib.parse.quote_from_bytes(raw, safe="").encode()
        check_error(httpd.post("/api/load", data=form,
                               headers={"Content-Type": "application/x-www-form-urlencoded"}), 400)

    @pytest.mark.parametrize("case", BAD_SHAPES, ids=[c[0] for c in BAD_SHAPES])
    def test_tb_300_02(self, httpd, case):
        # JSON of the wrong shape; the requestId is echoed when the package had one
        name, package, rid = case
        check_error(httpd.get("/api/load?" + q_data(package)), 400, request_id=rid)
        check_error(httpd.post("/api/load", data=package.encode(),
                               headers={"Content-Type": "application/json"}), 400, request_id=rid)

    @pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
    def test_tb_300_03(self, httpd, method):
        # other methods: 405 with an Allow header listing GET and POST, and a JSON body
        r = httpd.request(method, "/api/load", data=b'{"type":"load"}',
                          headers={"Content-Type": "application/json"})
        check_error(r, 405)
        allow = {m.strip().upper() for m in r.headers.get("Allow", "").split(",")}
        assert allow == {"GET", "POST", "OPTIONS"}, f"Allow: {r.headers.get('Allow')!r}"

    @pytest.mark.parametrize("ctype", ["application/xml", "multipart/related; boundary=x",
                                       "image/png"])
    def test_tb_300_04(self, httpd, ctype):
        # a body of a content type the module does not read: 415
        r = httpd.post("/api/load", data=b'{"type":"load","requestId":1}',
                       headers={"Content-Type": ctype})
        check_error(r, 415)

    def test_tb_300_05(self, httpd, db):
        # after all of that, the server still loads correctly
        check_load(httpd.get("/api/load"), self.board, db)

    def test_tb_300_06(self, httpd, db):
        # an unserved store is skipped, not an error (docs/protocol.md section 1, Decision)
        r = httpd.get("/api/load?" + q_data('{"type":"load","requestId":5,'
                                            '"stores":["nosuch",{"storeId":"calendars"}]}'))
        check_load(r, self.board, db, stores=[], request_id=5)


class TestBodyLimit:
    """TaskBoardMaxBodySize: a larger body gets 413, whether it is sent with a length or chunked."""

    LIMIT = 1024
    CONF = boards.board_conf(extra=f"    TaskBoardMaxBodySize {LIMIT}\n")

    def package(self, size: int) -> bytes:
        """A valid load package of exactly `size` bytes (padded in an app-specific key)."""
        head = '{"type":"load","requestId":77,"stores":["columns"],"pad":"'
        tail = '"}'
        p = (head + "x" * (size - len(head) - len(tail)) + tail).encode()
        assert len(p) == size
        return p

    def test_tb_300_10(self, httpd, db):
        # just under the limit: served
        r = httpd.post("/api/load", data=self.package(self.LIMIT - 24),
                       headers={"Content-Type": "application/json"})
        check_load(r, self.board, db, stores=["columns"], request_id=77)

    def test_tb_300_11(self, httpd, db):
        # over the limit, with Content-Length: 413
        for size in (self.LIMIT + 1, 4 * self.LIMIT, 200 * self.LIMIT):
            r = httpd.post("/api/load", data=self.package(size),
                           headers={"Content-Type": "application/json"})
            check_error(r, 413)

    def test_tb_300_12(self, httpd, db):
        # over the limit, chunked (no Content-Length): 413; under it, chunked: served
        def chunks(data: bytes):
            for i in range(0, len(data), 300):
                yield data[i:i + 300]
        r = httpd.post("/api/load", data=chunks(self.package(3 * self.LIMIT)),
                       headers={"Content-Type": "text/plain"})
        assert r.request.headers.get("Transfer-Encoding") == "chunked"
        check_error(r, 413)
        r = httpd.post("/api/load", data=chunks(self.package(self.LIMIT - 100)),
                       headers={"Content-Type": "text/plain"})
        check_load(r, self.board, db, stores=["columns"], request_id=77)

    def test_tb_300_13(self, httpd, db):
        # a form body over the limit: 413
        data = b"data=" + urllib.parse.quote_from_bytes(self.package(2 * self.LIMIT)).encode()
        r = httpd.post("/api/load", data=data,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        check_error(r, 413)


class TestDbErrors:
    """A mapping that the database does not match (a column or table that is not there): 500, the
    database's text goes to the error log with the requestId, never to the client."""

    BAD = """\
<Location /bad>
    <TaskBoardStore tasks>
        TaskBoardField name string
        TaskBoardField nosuch string
    </TaskBoardStore>
    <TaskBoardStore columns>
        TaskBoardTable nosuchtable
        TaskBoardId id string
    </TaskBoardStore>
</Location>
<Location /bad/load>
    SetHandler taskboard-load
</Location>
"""
    CONF = boards.board_conf() + BAD
    # the checks compare with the good board only
    BOARD = boards.board_conf()

    @pytest.mark.parametrize("store,rid", [("tasks", 991), ("columns", 992)])
    def test_tb_300_20(self, httpd, db, store, rid):
        httpd.expect_log(rf"TB\d{{5}}:.*\b{rid}\b")
        r = httpd.get("/bad/load?" + q_data(json.dumps({"type": "load", "requestId": rid,
                                                        "stores": [store]})))
        check_error(r, 500, request_id=rid)
        logged = [ln for ln in httpd.error_log.recent()
                  if "[taskboard:" in ln and str(rid) in ln]
        assert logged, "the database error was not logged with the requestId:\n" + "\n".join(
            httpd.error_log.recent())

    def test_tb_300_21(self, httpd, db):
        # the connection that saw the error serves the next loads, here and on the good board
        httpd.expect_log(r"TB\d{5}:.*\b993\b")
        check_error(httpd.get("/bad/load?" + q_data('{"type":"load","requestId":993}')), 500,
                    request_id=993)
        for i in range(5):
            check_load(httpd.get("/api/load"), self.board, db)
