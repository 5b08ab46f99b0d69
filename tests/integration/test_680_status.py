"""The taskboard-status handler: counters per location, summed over the httpd processes (shared
memory), as JSON (?json) and as an HTML table."""

import json
import re
import threading
import urllib.parse

import requests

import tbtest
from tbtest import check_sync, check_sync_error, describe, sync_post

# two processes: the counters of one must include what the other served.  MinSpareThreads 1:
# with all workers started, httpd logs AH10159 ("within MinSpareThreads of MaxRequestWorkers")
# whenever fewer than MinSpareThreads are idle at its once-a-second check, which with
# MinSpareThreads = MaxRequestWorkers meant whenever one request was in flight then.  8 threads
# per process: a worker that ends a response while no other worker of its process is idle
# closes the kept-alive connection instead of keeping it (connections_above_limit() in the
# event MPM), and the next load of that session then fails with "Remote end closed connection
# without response"; with 4, the 4 sessions below met that now and then.  Both were seen under
# ThreadSanitizer, where requests are slow.
MPM = """\
StartServers 2
ServerLimit 2
ThreadsPerChild 8
MinSpareThreads 1
MaxSpareThreads 32
MaxRequestWorkers 16
"""

STATUS = "<Location /tb-status>\n    SetHandler taskboard-status\n</Location>\n"

# a location whose store names a table that does not exist: its loads fail in the database
BROKEN = """\
<Location /broken>
    TaskBoardRevision options value name=revision
    <TaskBoardStore ghosts>
        TaskBoardTable no_such_table
        TaskBoardField name string
    </TaskBoardStore>
    SetHandler taskboard-load
</Location>
"""


def status(httpd) -> dict:
    """The JSON status, asked on a connection of its own (any process may answer)."""
    r = requests.get(httpd.url("/tb-status?json"), headers={"Connection": "close"}, timeout=10)
    assert r.status_code == 200, describe(r)
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    return {loc["path"]: loc for loc in tbtest.jloads(r.text)["locations"]}


class TestStatus:

    # the counters start at zero with the server
    CONF = tbtest.sample_test_conf() + STATUS + BROKEN + MPM
    BOARD = tbtest.sample_test_conf()
    SAMPLE_DATA = ("setup", "teardown")

    def test_tb_680_01(self, httpd, db):
        # loads (from 4 connections at once), syncs, a conflict, a refused package and a
        # database error, each counted in its location, the same whichever process answers
        load = "/api/load?data=" + urllib.parse.quote(json.dumps(
            {"type": "load", "requestId": 1, "stores": ["tasks", "resources"]}), safe="")
        codes = []

        def loads():
            with requests.Session() as s:
                for _ in range(5):
                    codes.append(s.get(httpd.url(load), timeout=10).status_code)
        threads = [threading.Thread(target=loads) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert codes == [200] * 20, codes

        rev = int(db.revision(self.board))
        # 2 records, then a card with its assignment (2), then a card removed with its two
        # assignments (3 rows: the cascade counts)
        b = check_sync(sync_post(httpd, {"type": "sync", "requestId": 2, "revision": rev,
                                         "tasks": {"updated": [{"id": 1, "weight": 11},
                                                               {"id": 2, "weight": 12}]}}),
                       self.board, db)
        b = check_sync(sync_post(httpd, {
            "type": "sync", "requestId": 3, "revision": b["revision"],
            "tasks": {"added": [{"$PhantomId": "_t", "name": "new"}]},
            "assignments": {"added": [{"$PhantomId": "_a", "eventId": "_t", "resourceId": 1}]}}),
            self.board, db)
        check_sync(sync_post(httpd, {"type": "sync", "requestId": 4, "revision": b["revision"],
                                     "tasks": {"removed": [{"id": 5}]}}), self.board, db)
        # stale, on a record changed since: 409, rolled back
        check_sync_error(sync_post(httpd, {"type": "sync", "requestId": 5, "revision": rev,
                                           "tasks": {"updated": [{"id": 1, "weight": 99}]}}),
                         409, request_id=5)
        check_sync_error(sync_post(httpd, "{not json"), 400)
        httpd.expect_log(r"TB00101", r"no_such_table")
        tbtest.check_error(httpd.get("/broken"), 500)

        seen = [status(httpd) for _ in range(8)]
        print("\n[680 status] " + json.dumps(seen[0]))
        assert all(s == seen[0] for s in seen), "the processes disagree"
        st = seen[0]
        loads_ = st["/api/load"]
        assert loads_["requests"] == loads_["loads"] == 20, loads_
        assert loads_["syncs"] == loads_["events"] == loads_["errors"] == 0, loads_
        # every process misses at first (more than once when its first loads come at the same
        # time: 4 connections), then answers from its cache
        assert 20 - 4 <= loads_["cacheHits"] <= 20 - 1, loads_
        # each load either read the stores or was a hit (some after waiting for another's read:
        # single flight); nothing changed in between, so nothing was rebuilt
        assert loads_["loadsRead"] + loads_["cacheHits"] == 20, loads_
        assert loads_["loadsWaited"] <= loads_["cacheHits"] and loads_["loadsRebuilt"] == 0, \
            loads_
        assert 0 < loads_["latencyMs"]["p50"] <= loads_["latencyMs"]["p90"] \
            <= loads_["latencyMs"]["p99"], loads_
        syncs = st["/api/sync"]
        assert syncs["syncs"] == syncs["requests"] == 5, syncs
        assert syncs["rowsWritten"] == 7, syncs
        assert syncs["conflicts"] == 1 and syncs["errors"] == 2, syncs
        assert syncs["rollbacks"] >= 1 and syncs["dbErrors"] == 0, syncs
        broken = st["/broken"]
        assert broken["loads"] == 1 and broken["errors"] == 1 and broken["dbErrors"] == 1, broken
        # the status requests themselves are not counted anywhere
        assert "/tb-status" not in st and st["(other)"]["requests"] == 0, st

    def test_tb_680_02(self, httpd):
        # the HTML page: a table with a row per location; other methods get 405
        r = requests.get(httpd.url("/tb-status"), timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html"), \
            describe(r)
        assert "<table" in r.text and ">/api/sync</td>" in r.text, r.text[:500]
        rows = re.findall(r"<tr><td>", r.text)
        assert len(rows) == len(status(httpd)), r.text[:1000]
        r = requests.post(httpd.url("/tb-status"), data="x", timeout=10)
        tbtest.check_error(r, 405, kind="status")
        assert r.headers.get("Allow") == "GET, OPTIONS"


# As the demo has it: a <Location /api> after the handlers' locations (the demo's adds its
# access rules), so that it is the last section merged into every request under /api.
LATE_API = "<Location /api>\n    TaskBoardMaxRecords 5000\n</Location>\n"


class TestStatusSections:
    """A row per handler location: the section whose SetHandler routed the request, whatever
    section came last in the merge."""

    CONF = tbtest.sample_test_conf() + STATUS + LATE_API
    BOARD = tbtest.sample_test_conf()
    SAMPLE_DATA = ("setup", "teardown")

    def test_tb_680_10(self, httpd, db):
        for rid in (1, 2):
            r = httpd.get("/api/load?data=" + urllib.parse.quote(json.dumps(
                {"type": "load", "requestId": rid, "stores": ["tasks"]}), safe=""))
            assert r.status_code == 200, describe(r)
        check_sync(sync_post(httpd, {"type": "sync", "requestId": 3,
                                     "revision": int(db.revision(self.board)),
                                     "tasks": {"updated": [{"id": 1, "weight": 7}]}}),
                   self.board, db)
        st = status(httpd)
        assert "/api" not in st, st
        assert st["/api/load"]["loads"] == 2 and st["/api/load"]["syncs"] == 0, st
        assert st["/api/sync"]["syncs"] == 1 and st["/api/sync"]["loads"] == 0, st
