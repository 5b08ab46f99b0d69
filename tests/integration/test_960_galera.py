"""The board on a 3-node MariaDB Galera cluster, with HAProxy in front (issue 17), run only with
TB_GALERA=1 (make -f Makefile.apxs test-galera).

The cluster, HAProxy and the httpd's database settings come from conf/galera/ (tests/lib/galera.py
renders them with loopback ports), so these tests prove the example a reader copies.  Two httpd
nodes (galera_httpds) are pointed at a cluster node each, or both at HAProxy.

- 01 storms through both httpd nodes, writes spread over two Galera nodes, then through HAProxy:
  no 500, every acknowledged change on every node, one journal revision per applied sync and no
  gap, equal table checksums on the three nodes
- 02 kill -9 of the node HAProxy writes to, mid-storm: only 200, 409 or 503 + Retry-After;
  writes go on through the next node (failover time measured); the node rejoins
- 03 a node cut off from the others (non-Primary): load, sync and events 503 + Retry-After, then
  200 again after it is back, without restarting httpd
- 04 read-your-writes with the sample's causal reads: a sync through one node, at once a load and
  an empty sync through the other, 200 rounds
- 05 events on one node see the syncs made through the other, in order
- 06 $PhantomId retries and requestId replays across nodes stay exactly-once

Each test prints its counts on one line ("[960 ...] {...}").
"""

import collections
import json
import os
import re
import threading
import time
import urllib.parse

import pytest
import requests

import boards
import sse
import storm
import tbtest
from storm import RETRY_TABLES, scaled
from tbtest import describe

pytestmark = pytest.mark.skipif(os.environ.get("TB_GALERA") != "1",
                                reason="the Galera tests run with TB_GALERA=1 "
                                       "(make -f Makefile.apxs test-galera)")

GALERA_HTTPD_CONF = os.path.join(tbtest.REPO, "conf", "galera", "taskboard-galera.conf")
TABLES = tbtest.WRITTEN_TABLES


def sample_dbd_lines():
    """The DBD lines of the sample (conf/galera/taskboard-galera.conf) that the test httpd's base
    config (tbtest.DBD_CONF) does not have already (the pool).  Its DBDParams must be the base
    config's but for the port and password (the test points them itself), and it must ask for
    causal reads."""
    with open(GALERA_HTTPD_CONF) as f:
        lines = [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    base = [ln.strip() for ln in tbtest.DBD_CONF.format(
        dbport=0, user=tbtest.DB_USER, pw="-", db=tbtest.DB_NAME).splitlines() if ln.strip()]
    params = [ln for ln in lines if ln.startswith("DBDParams ")]
    norm = lambda ln: re.sub(r"port=\S+ (user=\S+) pass=\S+", r"port=N \1 pass=P", ln)
    assert [norm(ln) for ln in params] == [norm(ln) for ln in base if
                                           ln.startswith("DBDParams ")], params
    assert CAUSAL in lines, f"{GALERA_HTTPD_CONF}: no {CAUSAL}"
    extra = [ln for ln in lines if ln not in base and not ln.startswith("DBDParams ")]
    return "".join(ln + "\n" for ln in extra)


CAUSAL = 'DBDInitSQL "SET SESSION wsrep_sync_wait = 1"'
# the sample's lines (causal reads and the pool); without causal reads: the same, then a later
# init statement that turns them off again (the base config has the sample's line too)
SAMPLE_DBD = sample_dbd_lines()
if CAUSAL not in tbtest.DBD_CONF:
    SAMPLE_DBD = CAUSAL + "\n" + SAMPLE_DBD
PLAIN_DBD = SAMPLE_DBD + 'DBDInitSQL "SET SESSION wsrep_sync_wait = 0"\n'

# per node: several processes with their own connection pools, as in test_950
MPM = """\
StartServers 2
ServerLimit 3
ThreadsPerChild 8
MinSpareThreads 8
MaxSpareThreads 24
MaxRequestWorkers 24
"""
CLIENTS = 6
STORM_CONF = boards.board_conf(extra="    TaskBoardConflictPolicy off\n" + RETRY_TABLES
                               + "    TaskBoardJournal taskboard_journal\n") + MPM
SAMPLE_CONF = tbtest.sample_test_conf() + "TaskBoardEventsPoll 200ms\n" + MPM
STATUS = "<Location /tb-status>\n    SetHandler taskboard-status\n</Location>\n"
# the module logs its 503s (TBnnnnn) and mod_dbd its lost connections
UNAVAILABLE_LOG = (r"TB\d{5}", r"\[dbd:")


def point(h: tbtest.Httpd, port: int, conf: str, causal: bool = True):
    """httpd h talks to the database at port (a Galera node or HAProxy), restarted with conf."""
    h.db_port = port
    h.dbd_extra = SAMPLE_DBD if causal else PLAIN_DBD
    h.reload(conf)


def fresh_board(g):
    """sql/schema.sql and sql/sample.sql through node 1, applied on every node."""
    g.cluster.settle()
    g.cluster.load_sql(1, tbtest.SCHEMA_SQL, tbtest.SAMPLE_SQL)
    # earlier tests' journal and retry records go (schema.sql keeps existing tables)
    for t in ("taskboard_journal", "taskboard_phantoms", "taskboard_requests"):
        g.cluster.query(1, f"DELETE FROM `{tbtest.DB_NAME}`.`{t}`")
    g.cluster.settle()


def node_dbs(g):
    return [tbtest.Db(n.port) for n in g.cluster.nodes]


def consistent(g, s: storm.Storm, before: int, exact: bool) -> dict:
    """After the storm: every node has every acknowledged change (Storm.verify on each), the
    journal has exactly the revisions before+1..after, and the tables are the same on all."""
    g.cluster.settle()
    dbs = node_dbs(g)
    summary, rows = None, []
    try:
        for i, db in enumerate(dbs, 1):
            try:
                summary = s.verify(db, before, exact=exact)
            except AssertionError as e:
                raise AssertionError(f"node {i}: {e}") from None
            rows.append(db.scalar("SELECT COUNT(*) FROM tasks WHERE name LIKE %s",
                                  (f"st{s.tag}-%",))
                        + db.scalar("SELECT COUNT(*) FROM assignments a JOIN tasks t "
                                    "ON a.event = t.id WHERE t.name LIKE %s", (f"st{s.tag}-%",)))
            after = summary["revision"][1]
            journal = [r[0] for r in db.query(
                "SELECT DISTINCT revision FROM taskboard_journal WHERE revision > %s "
                "ORDER BY revision", (before,))]
            assert journal == list(range(before + 1, after + 1)), (
                f"node {i}: journal revisions {journal[:20]}... are not {before + 1}..{after}")
        sums = [g.cluster.checksum(i, TABLES) for i in range(1, len(dbs) + 1)]
        assert all(x == sums[0] for x in sums), f"table checksums differ: {sums}"
    finally:
        for db in dbs:
            db.close()
    summary["rows_verified_per_node"] = rows
    # the acknowledged removals, checked absent on every node
    summary["cards_removed_verified"] = sum(len(c.gone) for c in s.clients)
    return summary


def counts(s: storm.Storm) -> dict:
    return {"syncs_acknowledged": s.acked(),
            "sync_503": s.tally.n("sync", "503"), "load_503": s.tally.n("load", "503"),
            "answers_500": s.tally.n(kind="500"), "sync_409": s.tally.n("sync", "409")}


def report(name: str, **values):
    print(f"\n[960 {name}] " + json.dumps(values, sort_keys=True))


# ------------------------------------------------------------------------------------------------

def galera_conflicts(g) -> int:
    """Transactions Galera aborted so far on all nodes: certification failures (the later of two
    conflicting commits) and brute-force aborts (a local transaction in the way of a replicated
    one).  Each surfaced to the module as error 1213."""
    total = 0
    for i in range(1, len(g.cluster.nodes) + 1):
        for _, value in g.cluster.query(
                i, "SHOW GLOBAL STATUS WHERE Variable_name IN "
                   "('wsrep_local_cert_failures', 'wsrep_local_bf_aborts')"):
            total += int(value)
    return total


def storm_through(env, g, hs, tag: str, ports) -> dict:
    fresh_board(g)
    for h, port in zip(hs, ports):
        point(h, port, STORM_CONF)
        # conflicts that still fail after the reruns are 503s, logged at warn
        h.expect_log(r"TB\d{5}")
    db = tbtest.Db(g.cluster.port(1))
    before = storm.revision(db)
    db.close()
    conflicts = galera_conflicts(g)
    s = storm.Storm(tag, hs, env.current_test, clients=CLIENTS, max_ops=scaled(90))
    s.start()
    s.finish(timeout=600)
    c = counts(s)
    assert c["answers_500"] == 0, s.tally.table()
    result = consistent(g, s, before, exact=c["sync_503"] == 0)
    per_node = [s.tally.n("sync", "200", node=i) for i in (0, 1)]
    assert min(per_node) > 0.3 * sum(per_node), per_node
    result.update(c, syncs_200_per_httpd=per_node, galera_aborts=galera_conflicts(g) - conflicts)
    return result


STORM_KEYS = ("syncs_acknowledged", "sync_503", "answers_500", "galera_aborts",
              "rows_verified_per_node", "cards_removed_verified", "revision", "elapsed_s")


def test_tb_960_01(env, galera, galera_httpds):
    # writes spread over two Galera nodes: syncs through the two nodes conflict on the revision
    # row (Galera aborts one, the module runs it again); then the same through HAProxy (one
    # writer node: InnoDB's row lock orders them instead)
    g, hs = galera, galera_httpds
    spread = storm_through(env, g, hs, "gs", [g.cluster.port(1), g.cluster.port(2)])
    report("two writer nodes", **{k: spread[k] for k in STORM_KEYS})
    # the storm must have made the conflicts it is about
    assert spread["galera_aborts"] > 0, spread
    proxied = storm_through(env, g, hs, "gh", [g.haproxy.port, g.haproxy.port])
    report("through haproxy", **{k: proxied[k] for k in STORM_KEYS})


def test_tb_960_02(env, galera, galera_httpds):
    # kill -9 of the node HAProxy writes to, in the middle of a storm through HAProxy
    g, hs = galera, galera_httpds
    fresh_board(g)
    for h in hs:
        point(h, g.haproxy.port, STORM_CONF)
        h.expect_log(*UNAVAILABLE_LOG)
    db = tbtest.Db(g.cluster.port(1))
    before = storm.revision(db)
    db.close()
    s = storm.Storm("gk", hs, env.current_test, clients=CLIENTS, resend=True)
    s.start()
    victim = None
    try:
        s.wait_acked(30, 180, "before the kill")
        victim = g.haproxy.writer()
        assert victim == 1, f"HAProxy writes to node {victim}, the config says node1"
        s.set_phase("killed")
        acked = s.acked()
        t_kill = time.monotonic()
        g.cluster.kill(victim)
        tbtest.poll(lambda: g.haproxy.writer() not in (None, victim), 60,
                    what="HAProxy moves the writes to another node")
        detected_s = time.monotonic() - t_kill
        next_writer = g.haproxy.writer()
        s.wait(lambda: s.acked() >= acked + CLIENTS, 60, "syncs acknowledged after the kill")
        failover_s = time.monotonic() - t_kill
        # Galera's failure detection (evs.suspect_timeout, PT5S) plus HAProxy's (2 x 1 s)
        assert failover_s < 20, f"writes resumed only {failover_s:.1f} s after the kill"
        s.set_phase("one node down")
        s.wait_acked(30, 180, "with a node down")
        s.set_phase("rejoin")
        t_restart = time.monotonic()
        g.cluster.restart(victim)
        rejoin_s = time.monotonic() - t_restart
        tbtest.poll(lambda: g.haproxy.writer() == victim, 60,
                    what="the writes back on the rejoined node")
        s.wait_acked(30, 180, "after the rejoin")
    finally:
        s.finish(timeout=300)
    c = counts(s)
    assert c["answers_500"] == 0, s.tally.table()
    result = consistent(g, s, before, exact=False)
    report("kill -9 of the writer", **c, rows_verified_per_node=result["rows_verified_per_node"],
           killed_node=victim, next_writer=next_writer,
           haproxy_detected_s=round(detected_s, 1), failover_s=round(failover_s, 1),
           rejoin_s=round(rejoin_s, 1), revision=result["revision"],
           unanswered_applied=result["unanswered_applied"],
           unanswered_not_applied=result["unanswered_not_applied"],
           outcomes=s.tally.table())


def load(h, rid: int, since=None) -> requests.Response:
    package = {"type": "load", "requestId": rid, "stores": ["tasks", "assignments"]}
    if since is not None:
        package["sinceRevision"] = since
    return h.get("/api/load?data=" + urllib.parse.quote(json.dumps(package), safe=""))


def ready_event(stream: sse.SseStream):
    """The "ready" event a new subscriber gets first (after the "retry" block)."""
    for _ in range(3):
        b = stream.next_event(10)
        assert b is not None, "no ready event within 10 s"
        if b.event == "ready":
            return b
        assert b.retry is not None, b
    raise AssertionError("no ready event")


def test_tb_960_03(env, galera, galera_httpds):
    # node 3 isolated (non-Primary, error 1047): an httpd pointed at it answers 503 with
    # Retry-After, and recovers once the node is back, without a restart
    g, hs = galera, galera_httpds
    fresh_board(g)
    h = hs[1]
    point(h, g.cluster.port(3), SAMPLE_CONF + STATUS)
    assert load(h, 1).status_code == 200
    pid = h.pid()
    h.expect_log(*UNAVAILABLE_LOG)
    g.cluster.isolate(3)
    answers = collections.Counter()
    try:
        for rid in range(10, 13):
            r = load(h, rid)
            answers[f"load {r.status_code}"] += 1
            storm.check_unavailable(r, "load", rid)
            pkg = {"type": "sync", "requestId": rid + 100,
                   "tasks": {"updated": [{"id": 1, "weight": 9000 + rid}]}}
            r = tbtest.sync_post(h, pkg)
            answers[f"sync {r.status_code}"] += 1
            storm.check_unavailable(r, "sync", rid + 100)
        # the status page reads no database: it answers, and counts what failed
        r = requests.get(h.url("/tb-status?json"), headers={"Connection": "close"}, timeout=10)
        assert r.status_code == 200, describe(r)
        per_location = {loc["path"]: loc for loc in tbtest.jloads(r.text)["locations"]}
        answers["status 200"] += 1
        assert per_location["/api/load"]["dbErrors"] >= 3, per_location["/api/load"]
        assert per_location["/api/sync"]["dbErrors"] >= 3, per_location["/api/sync"]
        # a new subscriber (the first of its process: none is open) waits for the poller's first
        # read of the board, and gets 503 as soon as that read fails (up to 10 s before)
        t_events = time.monotonic()
        with sse.SseStream(h) as stream:
            answers[f"events {stream.status}"] += 1
            assert stream.status == 503, f"events: {stream.status} {stream.headers}"
            assert stream.headers.get("retry-after", "").isdigit(), stream.headers
        events_503_s = time.monotonic() - t_events
    finally:
        t_back = time.monotonic()
        g.cluster.unisolate(3)
        unisolate_s = time.monotonic() - t_back
    tbtest.poll(lambda: load(h, 20).status_code == 200, 30, what="load 200 again")
    recovered_s = time.monotonic() - t_back
    r = tbtest.sync_post(h, {"type": "sync", "requestId": 21,
                             "tasks": {"updated": [{"id": 1, "weight": 9999}]}})
    assert r.status_code == 200, describe(r)
    rev = tbtest.json_body(r)["revision"]
    with sse.SseStream(h) as stream:
        assert stream.status == 200
        assert ready_event(stream).json()["revision"] == rev
    # a subscriber from before a second cut: its process's poller fails while the node is cut off
    # (logged once), and the stream gets the events again once the node is back
    with sse.SseStream(h) as early:
        assert early.status == 200, early.headers
        ready_event(early)
        g.cluster.isolate(3)
        time.sleep(1)           # some polls of the feed fail
        # a new subscriber meanwhile: 503, not 200 with the revision from before the cut
        t_late = time.monotonic()
        with sse.SseStream(h) as late:
            answers[f"events while cut {late.status}"] += 1
            assert late.status == 503, f"events: {late.status} {late.headers}"
        late_503_s = time.monotonic() - t_late
        g.cluster.unisolate(3)
        pkg = {"type": "sync", "requestId": 22, "tasks": {"updated": [{"id": 1, "weight": 9998}]}}

        def synced():
            r = tbtest.sync_post(h, pkg)
            return r.status_code == 200 and r
        rev = tbtest.json_body(tbtest.poll(synced, 30, what="sync 200 after the second cut"))[
            "revision"]
        event = early.events(1, 15)[0]
        assert int(event.id) == rev and event.json()["revision"] == rev, event
    assert h.pid() == pid, "httpd was restarted"
    for i in (1, 2):
        assert g.cluster.query(i, f"SELECT weight FROM `{tbtest.DB_NAME}`.tasks WHERE id = 1") \
            == [(9998,)]
    report("isolated node", answers=dict(answers), answers_500=sum(
        v for k, v in answers.items() if k.endswith(" 500")), unisolate_s=round(unisolate_s, 1),
        events_503_after_s=round(events_503_s, 1), events_503_feed_open_s=round(late_503_s, 1),
        recovered_s=round(recovered_s, 1))


def read_your_writes(hs, rounds: int, rid: int):
    """rounds of: a sync through hs[0], at once a load and an empty sync (the revision just
    answered) through hs[1].  Returns (loads that missed the change, empty syncs answered as a
    full load or at an older revision)."""
    missed, went_back = [], []
    for i in range(rounds):
        weight = rid + i
        r = tbtest.sync_post(hs[0], {"type": "sync", "requestId": rid + i,
                                     "tasks": {"updated": [{"id": 1, "weight": weight}]}})
        assert r.status_code == 200, describe(r)
        rev = tbtest.json_body(r)["revision"]
        r = load(hs[1], rid + 100000 + i)
        assert r.status_code == 200, describe(r)
        body = tbtest.json_body(r)
        task = {t["id"]: t for t in body["tasks"]["rows"]}.get(1)
        if body["revision"] < rev or task is None or task["weight"] != weight:
            missed.append((i, rev, body["revision"], task and task["weight"]))
        r = tbtest.sync_post(hs[1], {"type": "sync", "requestId": rid + 200000 + i,
                                     "revision": rev})
        assert r.status_code == 200, describe(r)
        body = tbtest.json_body(r)
        if body.get("type") != "sync" or body["revision"] < rev:
            went_back.append((i, rev, body.get("type"), body["revision"]))
    return missed, went_back


def test_tb_960_04(env, galera, galera_httpds):
    # read-your-writes across nodes with the sample's wsrep_sync_wait: a sync through httpd1
    # (node 1), at once a load and an empty sync through httpd2 (node 2).  For comparison (not
    # asserted: it depends on timing), the same rounds first without causal reads.
    g, hs = galera, galera_httpds
    fresh_board(g)
    rounds = 200
    point(hs[0], g.cluster.port(1), SAMPLE_CONF, causal=False)
    point(hs[1], g.cluster.port(2), SAMPLE_CONF, causal=False)
    # without causal reads, node 2 may be asked for a revision it has not read yet (logged)
    hs[1].expect_log(r"TB\d{5}")
    plain_missed, plain_back = read_your_writes(hs, rounds, 400000)
    point(hs[0], g.cluster.port(1), SAMPLE_CONF)
    point(hs[1], g.cluster.port(2), SAMPLE_CONF)
    missed, went_back = read_your_writes(hs, rounds, 500000)
    report("read your writes", rounds=rounds, load_missed=len(missed),
           empty_sync_full_or_older=len(went_back),
           without_causal_reads={"load_missed": len(plain_missed),
                                 "empty_sync_full_or_older": len(plain_back)})
    assert not missed, f"loads through node 2 missed the sync through node 1: {missed[:10]}"
    assert not went_back, f"empty syncs answered as a board that went back: {went_back[:10]}"


def test_tb_960_05(env, galera, galera_httpds):
    # events on httpd2 (node 2) see the syncs made through httpd1 (node 1), in order
    g, hs = galera, galera_httpds
    fresh_board(g)
    point(hs[0], g.cluster.port(1), SAMPLE_CONF)
    point(hs[1], g.cluster.port(2), SAMPLE_CONF)
    n = 30
    with sse.SseStream(hs[1]) as stream:
        assert stream.status == 200, stream.headers
        start = ready_event(stream).json()["revision"]
        revs = []
        for i in range(n):
            r = tbtest.sync_post(hs[0], {"type": "sync", "requestId": 70000 + i,
                                         "tasks": {"updated": [{"id": 1 + i % 3,
                                                                "weight": 30000 + i}]}})
            assert r.status_code == 200, describe(r)
            revs.append(tbtest.json_body(r)["revision"])
        assert revs == list(range(start + 1, start + n + 1)), revs
        events = stream.events(n, 30)
    got = [(int(e.id), e.json()["revision"], e.json()["stores"]) for e in events]
    assert [x[0] for x in got] == revs and [x[1] for x in got] == revs, got
    assert all(x[2] == ["tasks"] for x in got), got
    report("events across nodes", syncs=n, events_in_order=len(got))


ADD = {"assignments": {"added": [{"$PhantomId": "_generatedAssignmentModel_g{n}",
                                  "eventId": "_generatedEventModel_g{n}", "resourceId": 3}]},
       "tasks": {"added": [{"$PhantomId": "_generatedEventModel_g{n}", "name": "Galera once {n}",
                            "status": "todo"}]}}


def add_package(n: int, rid: int) -> bytes:
    text = json.dumps(ADD).replace("{n}", str(n))
    return json.dumps({"type": "sync", "requestId": rid, **json.loads(text)}).encode()


def post_raw(h, raw: bytes):
    return h.post("/api/sync", data=raw, headers={"Content-Type": "application/json"})


def until_answered(h, raw: bytes, counter):
    """Sends raw until it is answered 200 (503 + Retry-After: again, as the client does)."""
    for _ in range(50):
        r = post_raw(h, raw)
        counter[r.status_code] += 1
        if r.status_code == 200:
            return r
        assert r.status_code == 503, describe(r)
        storm.check_unavailable(r, "sync", json.loads(raw)["requestId"])
        time.sleep(0.2)
    raise AssertionError("no 200 in 50 attempts")


def test_tb_960_06(env, galera, galera_httpds):
    # exactly-once across nodes: a transport resend (same requestId and bytes) through the other
    # node gets the first answer replayed; the client's next sync (new requestId, same
    # $PhantomIds) through the other node maps to the same rows; and both at the same moment
    # through two nodes (the second conflicts, is rerun, and finds the first's rows)
    g, hs = galera, galera_httpds
    fresh_board(g)
    point(hs[0], g.cluster.port(1), SAMPLE_CONF)
    point(hs[1], g.cluster.port(2), SAMPLE_CONF)
    for h in hs:
        h.expect_log(r"TB\d{5}")
    answers = collections.Counter()
    aborts = galera_conflicts(g)
    n_seq, n_par = 20, 20
    for n in range(n_seq):
        first = until_answered(hs[0], add_package(n, 80000 + n), answers)
        replay = until_answered(hs[1], add_package(n, 80000 + n), answers)
        assert replay.content == first.content, (describe(first), describe(replay))
        again = until_answered(hs[1], add_package(n, 81000 + n), answers)
        a, b = tbtest.json_body(first), tbtest.json_body(again)
        assert a["tasks"]["rows"][0]["id"] == b["tasks"]["rows"][0]["id"], (a, b)
        assert a["assignments"]["rows"][0]["id"] == b["assignments"]["rows"][0]["id"], (a, b)
    for n in range(n_seq, n_seq + n_par):
        got = [None, None]

        def send(k, n=n):
            got[k] = until_answered(hs[k], add_package(n, 82000 + 10 * n + k), answers)
        threads = [threading.Thread(target=send, args=(k,)) for k in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert all(got), f"card {n}: an answer is missing"
        ids = {tbtest.json_body(r)["tasks"]["rows"][0]["id"] for r in got}
        assert len(ids) == 1, f"card {n} got two ids through two nodes: {ids}"
    g.cluster.settle()
    per_node = []
    for i in (1, 2, 3):
        rows = g.cluster.query(i, f"SELECT t.name, COUNT(DISTINCT t.id), COUNT(a.id) FROM "
                                  f"`{tbtest.DB_NAME}`.tasks t LEFT JOIN `{tbtest.DB_NAME}`."
                                  f"assignments a ON a.event = t.id WHERE t.name LIKE "
                                  f"'Galera once %' GROUP BY t.name")
        assert len(rows) == n_seq + n_par, f"node {i}: {len(rows)} cards"
        assert all(r[1] == 1 and r[2] == 1 for r in rows), f"node {i}: duplicates {rows}"
        per_node.append(len(rows))
    report("exactly once across nodes", cards=n_seq + n_par, rows_verified_per_node=per_node,
           answers={str(k): v for k, v in sorted(answers.items())}, answers_500=answers[500],
           galera_aborts=galera_conflicts(g) - aborts)
