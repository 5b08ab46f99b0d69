"""The load cache (docs/protocol.md, "The load cache"): answers are kept per process under (what was asked,
revision) and served again while the revision stays the same, plain or gzip-compressed, with the
requestId of each request spliced in front; a load that misses reads every store in one snapshot.

Writes in these tests go through db.conn() directly where a test must control whether the revision
rises; tbtest.Db.execute raises it by itself."""

import gzip
import json
import threading
import time
import urllib.parse
import zlib

import requests

import tbtest
from tbtest import check_load, describe, json_body

STORES = ["tasks", "resources", "assignments"]


def load_path(rid, stores=STORES, path="/api/load") -> str:
    p = json.dumps({"type": "load", "requestId": rid, "stores": stores})
    return f"{path}?data=" + urllib.parse.quote(p, safe="")


def raw_get(httpd, path, **headers) -> requests.Response:
    """GET without requests' own decompression: .content is the bytes on the wire.  (requests
    asks for gzip by default, so every other test already reads gzip answers of cache hits.)"""
    headers.setdefault("Accept-Encoding", "identity")
    r = httpd.get(path, headers=headers, stream=True)
    r._content = r.raw.read(decode_content=False)
    return r


def write_unseen(db, sql, args=None):
    """A write that does NOT raise the revision (what docs/protocol.md tells outside writers not to
    do), to tell a cached answer from a fresh one."""
    with db.conn().cursor() as cur:
        cur.execute(sql, args)


def statements(db) -> int:
    return int(db.query("SHOW GLOBAL STATUS LIKE 'Questions'")[0][1])


def count_statements(db, action) -> int:
    """Statements the server ran for action(), without the test's own SHOW."""
    a = statements(db)
    b = statements(db)
    action()
    c = statements(db)
    return (c - b) - (b - a)


class TestLoadCache:
    """The shipped sample configuration: the cache is on by default."""

    CONF = tbtest.sample_test_conf()

    def test_tb_520_01(self, httpd, db):
        # the same revision: byte-identical answers apart from the requestId, which is each
        # request's own (number, string, none), with a Content-Length and Vary: Accept-Encoding
        first = raw_get(httpd, load_path(1001))
        plain = first.content.replace(b'"requestId":1001,', b"")
        for rid in (1002, 987654321012, "abc", "x\"y"):
            r = raw_get(httpd, load_path(rid))
            body = check_load(r, self.board, db, stores=STORES, request_id=rid)
            assert r.content.replace(b'"requestId":' + json.dumps(rid).encode() + b",", b"") \
                == plain, "the cached part differs"
            assert r.headers.get("Content-Length") == str(len(r.content))
            assert "accept-encoding" in r.headers.get("Vary", "").lower(), describe(r)
            assert body["revision"] == db.revision(self.board)
        p = urllib.parse.quote(json.dumps({"type": "load", "stores": STORES}), safe="")
        r = raw_get(httpd, "/api/load?data=" + p)
        assert r.content == plain, "an answer without requestId is the cached part alone"

    def test_tb_520_02(self, httpd, db):
        # a cache hit costs one statement (the revision); a sync that moves a card costs exactly
        # the statements of its transaction, none prepared again.  Counted over a few requests:
        # a connection mod_dbd opens meanwhile (its DBDInitSQL) or a second httpd process (its
        # first pruning) may add to one of them, never to all.
        httpd.get(load_path(1))
        hits = []
        for _ in range(4):
            answers = []
            hits.append(count_statements(db, lambda: answers.append(httpd.get(load_path(2)))))
            check_load(answers[0], self.board, db, stores=STORES)
        assert min(hits) == 1, f"statements per cache hit: {hits}"

        def prepares() -> int:
            return int(db.query("SHOW GLOBAL STATUS LIKE 'Com_stmt_prepare'")[0][1])

        def move(rid):
            r = tbtest.sync_post(httpd, {"type": "sync", "requestId": rid, "tasks": {
                "updated": [{"id": 1, "status": "doing", "weight": rid}]}})
            assert r.status_code == 200, describe(r)
        with db.snapshot("tasks"):
            move(5000)      # statements prepared on this connection (and a pruning, once)
            runs = []
            for rid in range(5001, 5006):
                # the replay lookup, SET TRANSACTION (read committed), START TRANSACTION, the
                # revision read, the row lock, the UPDATE, reading the row back, the revision
                # lock, the journal row, raising the revision, recording the answer, COMMIT
                before = prepares()
                n = count_statements(db, lambda: move(rid))
                runs.append((n, prepares() - before))
            assert (12, 0) in runs, f"(statements, prepares) per warm card move: {runs}"
            assert min(n for n, _ in runs) == 12, runs

    def test_tb_520_03(self, httpd, db):
        # a sync raises the revision, and the next load has its change
        check_load(httpd.get(load_path(3)), self.board, db, stores=STORES)
        with db.snapshot("tasks"):
            r = tbtest.sync_post(httpd, {"type": "sync", "requestId": 31, "tasks": {
                "updated": [{"id": 2, "name": "renamed through sync"}]}})
            assert r.status_code == 200, describe(r)
            body = check_load(httpd.get(load_path(32)), self.board, db, stores=STORES)
            assert {t["id"]: t["name"] for t in body["tasks"]["rows"]}[2] == "renamed through sync"

    def test_tb_520_04(self, httpd, db):
        # an outside write that does not raise the revision is not seen while the answer is
        # cached (docs/protocol.md's rule for outside writers), and is seen once the revision rises
        with db.snapshot("tasks"):
            before = check_load(httpd.get(load_path(4)), self.board, db, stores=STORES)
            write_unseen(db, "UPDATE tasks SET name = 'behind the cache' WHERE id = 3")
            stale = json_body(httpd.get(load_path(41)))
            assert stale["tasks"] == before["tasks"]
            write_unseen(db, "UPDATE options SET value = value + 1 WHERE name = 'revision'")
            body = check_load(httpd.get(load_path(42)), self.board, db, stores=STORES)
            assert {t["id"]: t["name"] for t in body["tasks"]["rows"]}[3] == "behind the cache"

    def test_tb_520_05(self, httpd, db):
        # gzip: the compressed answer inflates to exactly the plain one with the same requestId,
        # both for the first request that makes the gzip form and for later ones
        plain = raw_get(httpd, load_path(5)).content
        for rid in (5, 5, 5):
            r = raw_get(httpd, load_path(rid), **{"Accept-Encoding": "gzip, deflate"})
            assert r.headers.get("Content-Encoding") == "gzip", describe(r)
            assert r.headers.get("Content-Length") == str(len(r.content))
            assert gzip.decompress(r.content) == plain
            # a strict single-member inflater (what browsers use) agrees
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            assert d.decompress(r.content) == plain and d.eof and not d.unused_data
            assert len(r.content) < len(plain) / 2
        # the first load after a change (a miss) is compressed as well
        db.raise_revisions()
        r = raw_get(httpd, load_path(5), **{"Accept-Encoding": "gzip"})
        assert r.headers.get("Content-Encoding") == "gzip", describe(r)
        assert json.loads(gzip.decompress(r.content))["revision"] == db.revision(self.board)
        plain = raw_get(httpd, load_path(5)).content
        r = raw_get(httpd, load_path("other-id"), **{"Accept-Encoding": "x-gzip"})
        assert r.headers.get("Content-Encoding") == "gzip"
        assert json.loads(gzip.decompress(r.content))["requestId"] == "other-id"
        for refuse in ("gzip;q=0", "deflate", "br", "identity", "gzip; q=0.0, identity"):
            r = raw_get(httpd, load_path(5), **{"Accept-Encoding": refuse})
            assert "Content-Encoding" not in r.headers, f"{refuse}: {describe(r)}"
            assert r.content == plain, refuse

    def test_tb_520_06(self, httpd, db):
        # each set of stores and each page is its own answer
        for stores, pages in ((["tasks"], None), (["resources", "tasks"], None),
                              ([{"storeId": "tasks", "page": 1, "pageSize": 2}], {"tasks": (1, 2)}),
                              ([{"storeId": "tasks", "page": 2, "pageSize": 2}], {"tasks": (2, 2)}),
                              ([{"storeId": "tasks", "page": 1, "pageSize": 3}], {"tasks": (1, 3)})):
            names = [s if isinstance(s, str) else s["storeId"] for s in stores]
            for rid in (61, 62):
                check_load(httpd.get(load_path(rid, stores)), self.board, db, stores=names,
                           request_id=rid, pages=pages)

    def test_tb_520_07(self, env, httpd, db):
        # one snapshot per answer: while syncs add a card with its assignment (and remove one)
        # as fast as they can, no load shows an assignment whose card it does not show, and the
        # revision of every answer is one the board had
        stop = threading.Event()
        errors = []

        def writer():
            n = 0
            s = requests.Session()
            while not stop.is_set():
                n += 1
                r = s.post(httpd.url("/api/sync"), json={
                    "type": "sync", "requestId": 70000 + n,
                    "tasks": {"added": [{"$PhantomId": f"t{n}", "name": f"pair {n}"}]},
                    "assignments": {"added": [{"$PhantomId": f"a{n}", "eventId": f"t{n}",
                                               "resourceId": 1}]}})
                if r.status_code != 200:
                    errors.append(describe(r))
                    return
                tid = r.json()["tasks"]["rows"][0]["id"]
                if n % 2 == 0:
                    r = s.post(httpd.url("/api/sync"), json={
                        "type": "sync", "requestId": 170000 + n,
                        "tasks": {"removed": [{"id": tid}]}})
                    if r.status_code != 200:
                        errors.append(describe(r))
                        return

        with db.snapshot("tasks", "assignments", "taskboard_phantoms", "taskboard_requests"):
            rev0 = db.revision(self.board)
            threads = [threading.Thread(target=writer) for _ in range(2)]
            for t in threads:
                t.start()
            loads = 0
            s = requests.Session()
            deadline = time.monotonic() + 4
            try:
                while time.monotonic() < deadline and not errors:
                    body = s.get(httpd.url(load_path(loads))).json()
                    loads += 1
                    tasks = {t["id"] for t in body["tasks"]["rows"]}
                    orphans = [a for a in body["assignments"]["rows"] if a["eventId"] not in tasks]
                    assert not orphans, f"revision {body['revision']}: {orphans[:3]}"
                    assert body["revision"] >= rev0
            finally:
                stop.set()
                for t in threads:
                    t.join()
            assert not errors, errors[0]
            assert loads > 20 and db.revision(self.board) > rev0 + 20, \
                f"too little happened to tell: {loads} loads"


class TestLoadCacheSettings:
    """TaskBoardLoadCache and TaskBoardLoadCacheSize."""

    # each test starts the server with the cache settings it checks
    sample = tbtest.sample_test_conf()
    BOARD = sample

    @classmethod
    def cleanup_class(cls, httpd):
        # the last test's cache settings do not outlive the class
        httpd.reload(cls.sample)

    def seen_at_once(self, httpd, db, path="/api/load", stores=("columns",)) -> bool:
        """Whether a write without a revision change shows in the next load."""
        with db.snapshot("columns", "tasks"):
            httpd.get(load_path(1, list(stores), path))
            httpd.get(load_path(2, list(stores), path))
            write_unseen(db, "UPDATE columns SET text = CONCAT(text, '!') WHERE id = 'todo'")
            write_unseen(db, "UPDATE tasks SET name = CONCAT(name, '!') WHERE id = 1")
            body = json_body(httpd.get(load_path(3, list(stores), path)))
        sid = stores[0]
        key, want = ("text", "todo") if sid == "columns" else ("name", 1)
        row = [r for r in body[sid]["rows"] if r["id"] == want][0]
        return row[key].endswith("!")

    def test_tb_520_10(self, httpd, db):
        # TaskBoardLoadCache Off in one location: its loads always read the database, while
        # another location with the same stores keeps caching
        httpd.reload(self.sample + "<Location /api/fresh>\n    SetHandler taskboard-load\n"
                     "    TaskBoardLoadCache Off\n</Location>\n")
        assert self.seen_at_once(httpd, db, "/api/fresh")
        assert not self.seen_at_once(httpd, db, "/api/load")

    def test_tb_520_11(self, httpd, db):
        # TaskBoardLoadCacheSize 0: no cache in the process at all
        httpd.reload(self.sample + "TaskBoardLoadCacheSize 0\n")
        assert self.seen_at_once(httpd, db)
        check_load(httpd.get("/api/load"), self.board, db)

    def test_tb_520_12(self, httpd, db):
        # an answer larger than the largest kept is streamed every time; smaller ones are kept
        httpd.reload(self.sample + "TaskBoardLoadCacheSize 100000 1000\n")
        small = len(httpd.get(load_path(1, ["columns"])).content)
        large = len(httpd.get(load_path(1, ["tasks"])).content)
        assert small < 1000 < large
        assert not self.seen_at_once(httpd, db, stores=("columns",))
        assert self.seen_at_once(httpd, db, stores=("tasks",))

    def test_tb_520_13(self, httpd, db):
        # a cache too small for all answers evicts, and every answer stays right
        httpd.reload(self.sample + "TaskBoardLoadCacheSize 3000 1500\n")
        for rnd in range(3):
            for page in range(1, 6):
                check_load(httpd.get(load_path(rnd, [
                    {"storeId": "tasks", "page": page, "pageSize": 1}, "columns"])),
                    self.board, db, stores=["tasks", "columns"], pages={"tasks": (page, 1)})
            check_load(httpd.get("/api/load"), self.board, db)
