"""Causal reads on a Galera cluster, with the lag made rather than hoped for.

A client that saved through node 1 and then asks node 2, which has not applied that sync yet,
for what changed since the revision it was answered must not be told that the board went back
(a full load at the older revision, which makes a trackResponseType client drop the card it just
saved): the module waits causally and reads again, also without wsrep_sync_wait in DBDInitSQL.
A node that cannot catch up within Galera's causal read timeout answers 503, not 500.

The lag: a test session on node 2 holds `LOCK TABLES options READ` (the sample's revision row
lives in `options`), which stops node 2's applier at the next sync's write of that row while its
reads go on.  Runs with TB_GALERA=1 (make -f Makefile.apxs test-galera).
"""

import contextlib
import os
import threading
import time

import pymysql
import pytest

import tbtest
from tbtest import describe
from test_960_galera import SAMPLE_CONF, fresh_board, point

pytestmark = pytest.mark.skipif(os.environ.get("TB_GALERA") != "1",
                                reason="the Galera tests run with TB_GALERA=1 "
                                       "(make -f Makefile.apxs test-galera)")


@contextlib.contextmanager
def applier_stopped(g, node: int):
    """Node's applier waits at the revision row until the block ends; its reads go on."""
    conn = pymysql.connect(host="127.0.0.1", port=g.cluster.port(node), user=tbtest.DB_USER,
                           password=tbtest.DB_PASS, database=tbtest.DB_NAME, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("LOCK TABLES options READ")
        yield
    finally:
        with conn.cursor() as cur:
            cur.execute("UNLOCK TABLES")
        conn.close()


def node_revision(g, node: int) -> int:
    return int(g.cluster.query(node, f"SELECT value FROM `{tbtest.DB_NAME}`.options "
                                     "WHERE name = 'revision'")[0][0])


def move(h, rid: int, weight: int) -> int:
    r = tbtest.sync_post(h, {"type": "sync", "requestId": rid,
                             "tasks": {"updated": [{"id": 1, "weight": weight}]}})
    assert r.status_code == 200, describe(r)
    return tbtest.json_body(r)["revision"]


def empty_sync(h, rid: int, revision: int):
    return tbtest.sync_post(h, {"type": "sync", "requestId": rid, "revision": revision})


def in_background(fn):
    out = {}
    t = threading.Thread(target=lambda: out.update(resp=fn()))
    t.start()
    return t, out


def test_tb_962_01(env, galera, galera_httpds):
    # no wsrep_sync_wait in DBDInitSQL: the module's own causal wait
    g, hs = galera, galera_httpds
    fresh_board(g)
    for h, node in zip(hs, (1, 2)):
        point(h, g.cluster.port(node), SAMPLE_CONF, causal=False)
    conf = open(hs[1].conf_path).read()   # the sample's causal reads, then turned off
    assert conf.rindex("wsrep_sync_wait = 0") > conf.rindex("wsrep_sync_wait = 1")
    before = node_revision(g, 2)
    with applier_stopped(g, 2):
        saved = move(hs[0], 962001, 9621)
        assert saved == before + 1
        t, out = in_background(lambda: empty_sync(hs[1], 962002, saved))
        time.sleep(1.5)
        # node 2 is still behind, and the empty sync waits for it rather than answer
        assert node_revision(g, 2) == before
        assert t.is_alive(), f"answered while node 2 was behind: {describe(out['resp'])}"
    t.join(30)
    r = out["resp"]
    assert r.status_code == 200, describe(r)
    body = tbtest.json_body(r)
    # up to date at the revision the client has: not a full load at the older one
    assert body["type"] == "sync" and body["revision"] == saved, describe(r)
    assert "tasks" not in body, describe(r)


def test_tb_962_02(env, galera, galera_httpds):
    # a node that cannot catch up within repl.causal_read_timeout: 503 with Retry-After for the
    # empty sync (the module's wait) and for a load (the sample's wsrep_sync_wait), then 200
    g, hs = galera, galera_httpds
    fresh_board(g)
    for h, node in zip(hs, (1, 2)):
        point(h, g.cluster.port(node), SAMPLE_CONF)
    hs[1].expect_log("TB00101")
    g.cluster.query(2, "SET GLOBAL wsrep_provider_options = 'repl.causal_read_timeout=PT1S'")
    try:
        with applier_stopped(g, 2):
            saved = move(hs[0], 962011, 9622)
            answers = [empty_sync(hs[1], 962012, saved),
                       hs[1].get("/api/load?requestId=962013")]
    finally:
        g.cluster.query(2, "SET GLOBAL wsrep_provider_options = "
                           "'repl.causal_read_timeout=PT30S'")
    for r, kind in zip(answers, ("sync", "load")):
        body = tbtest.check_error(r, 503, kind=kind)
        assert "busy" in body["message"], describe(r)
        tbtest.check_retry_after(r)
    assert any("TB00101" in ln and "[taskboard:warn]" in ln and "[1205]" in ln
               for ln in hs[1].error_log.recent()), hs[1].tail_log()
    r = empty_sync(hs[1], 962014, saved)
    assert r.status_code == 200 and tbtest.json_body(r)["revision"] == saved, describe(r)
    r = hs[1].get("/api/load?requestId=962015")
    assert r.status_code == 200, describe(r)
    assert {t["id"]: t for t in tbtest.json_body(r)["tasks"]["rows"]}[1]["weight"] == 9622
