"""Faults under load: MariaDB killed during a sync storm, httpd restarted gracefully and stopped
gracefully during a storm, and clients that go away in the middle of an upload or a download.

The storms (storm.py) are clients that add cards with an assignee, move and remove their own
cards and load the board, each request on a new connection; they keep every change the server
acknowledged and every sync whose answer they did not get.  Afterwards the database must hold
every acknowledged change, nothing twice, no card without its assignment and no assignment
without its card, each unanswered sync completely or not at all, and a revision that rose by
exactly one per sync that changed something.  Sizes scale with TB_STORM_SCALE (default 1).
"""

import collections
import concurrent.futures
import json
import os
import random
import threading
import time
import urllib.parse

import pymysql
import requests

import boards
import procfs
import storm
import tbtest
from storm import OUTAGE_LOG, RETRY_TABLES, scaled

CLIENTS = 6

# Two or three busy processes (each with its own connection pool), and room in the scoreboard
# for the processes that a graceful restart leaves finishing their requests.
MPM = """\
StartServers 2
ServerLimit 8
ThreadsPerChild 8
MinSpareThreads 4
MaxSpareThreads 24
MaxRequestWorkers 24
"""


def report(name: str, data: dict):
    """The numbers of a run, for the log of the test session (pytest -s shows them)."""
    print(f"\n[{name}] " + json.dumps(data, sort_keys=True))


class KillStorm:
    """MariaDB dies (kill -9) under a sync storm and comes back; httpd keeps running.

    What it found (2026-11, libmariadb 3.3 / apr-util 1.6.3):
    - an httpd child that never served again (at shutdown: AH00045 ... still did not exit).  Its
      threads all waited on mod_dbd's pool mutex but one, in poll() inside mysql_real_connect on
      a connection MariaDB no longer had: mod_dbd opens connections while it holds the pool's
      lock, and the MySQL client had no connect or read timeout.  The [taskboard] option group
      (DBDParams group=taskboard, tbtest's my.cnf) gives it both now.  Should it come back, the
      failure message shows the threads and their sockets.
    - under ASan, a child stopped by a use after free in apr_dbd_open_ex() when MariaDB dies
      between a connect and its first ping (tests/asan.supp has the details)."""

    TAG = "k"
    SAMPLE_DATA = ("started", "teardown")

    @classmethod
    def conf(cls, env) -> str:
        return boards.board_conf(extra="    TaskBoardConflictPolicy off\n" + RETRY_TABLES) + MPM

    @classmethod
    def prepare_class(cls, env):
        cls.CONF = cls.conf(env)

    def kill_storm(self, env, httpd, db, name: str):
        """Kill -9 in the middle of the storm, then start MariaDB again (5 x TB_STORM_SCALE
        rounds).  While it is down every sync and load gets a 503 JSON with Retry-After (a
        connection error or any other status fails the clients); it then serves again
        without an httpd restart.  Half of the clients abandon unanswered syncs (they must
        be applied completely or not at all), the others resend them with the same
        $PhantomIds until acknowledged (nothing may exist twice)."""
        httpd.expect_log(*OUTAGE_LOG)
        parent = httpd.pid()
        before = storm.revision(db)
        s = storm.Storm(self.TAG, [httpd], env.current_test, clients=CLIENTS, resend=True)
        rounds, recovery = [], []
        s.start()
        try:
            for rnd in range(scaled(5)):
                s.set_phase("up")
                s.wait_acked(scaled(60), 60, "before the kill")
                s.set_phase("killing")
                env.db_kill()
                s.set_phase(f"down{rnd}")
                acked = s.acked()
                s.wait(lambda: (s.tally.n("sync", "503", f"down{rnd}") >= 30
                                and s.tally.n("load", "503", f"down{rnd}") >= 3),
                       30, "503s for syncs and loads while the database is down")
                down = {"sync_503": s.tally.n("sync", "503", f"down{rnd}"),
                        "load_503": s.tally.n("load", "503", f"down{rnd}"),
                        "acked_while_down": s.acked() - acked}
                s.set_phase("restarting")
                t0 = time.monotonic()
                env.db_start()
                started = time.monotonic() - t0
                s.set_phase("recovering")
                t1 = time.monotonic()
                s.wait_acked(1, 30, "the first sync after the restart")
                recovery.append(round(time.monotonic() - t1, 2))
                down["db_start_s"] = round(started, 2)
                rounds.append(down)
            s.set_phase("after")
            s.wait_acked(scaled(60), 60, "after the last restart")
        finally:
            s.finish(env=env)
        assert httpd.pid() == parent, "httpd was restarted"
        result = s.verify(db, before)
        # the board as a whole loads, and equals the database
        tbtest.check_load(httpd.get("/api/load"), self.board, db)
        report(name, {"kills": len(rounds), "rounds": rounds,
                      "first_sync_after_start_s": recovery, **result})


class TestDbKilledDuringStorm(KillStorm):
    """With reconnect=0 (the base configuration, as conf/taskboard.conf recommends)."""

    def test_tb_900_01(self, env, httpd, db):
        self.kill_storm(env, httpd, db, "900_01 db kill")


class ConnectionKiller(threading.Thread):
    """Kills the board user's connections as MariaDB's root, one every few milliseconds: mostly
    a random one (KILL), sometimes only its statement (KILL QUERY), now and then all of them.
    A kill lands wherever that connection happens to be: in a query, between two statements of
    a transaction, in the COMMIT, in the login or the ping that follows it, or idle in the pool."""

    def __init__(self, env, weights=(6, 3, 1), pause=(0.002, 0.03)):
        super().__init__(name="connection-killer", daemon=True)
        self.env = env
        self.weights = weights          # of KILL, KILL QUERY and "all"
        self.pause = pause              # between two kills, seconds (uniform)
        self.stop = threading.Event()
        self.kills = collections.Counter()
        self.error = None

    def run(self):
        rnd = random.Random(900)
        c = pymysql.connect(unix_socket=os.path.join(self.env.state_dir, "mariadb", "mysqld.sock"),
                            user="root", password="", autocommit=True, connect_timeout=5)
        try:
            with c.cursor() as cur:
                while not self.stop.wait(rnd.uniform(*self.pause)):
                    # SHOW PROCESSLIST, not information_schema.PROCESSLIST: that one builds an
                    # on-disk temporary table (its INFO column is a blob) every few milliseconds,
                    # and MariaDB 10.11 once died in it (SIGSEGV in ha_maria::drop_table from
                    # free_tmp_table) while connections were being killed
                    cur.execute("SHOW PROCESSLIST")
                    ids = [row[0] for row in cur.fetchall() if row[1] == tbtest.DB_USER]
                    if not ids:
                        continue
                    how = rnd.choices(["KILL", "KILL QUERY", "all"], self.weights)[0]
                    for victim in (ids if how == "all" else [rnd.choice(ids)]):
                        try:
                            cur.execute(f"{'KILL' if how == 'all' else how} {int(victim)}")
                            self.kills[how] += 1
                        except pymysql.MySQLError:
                            pass        # it ended by itself in the meantime
        except Exception as e:          # the test reports it
            self.error = e
        finally:
            c.close()


class TestConnectionsKilledDuringStorm:
    """Database connections killed at random while the storm runs (MariaDB stays up).  Every
    answer must be a 200 or a 503 with Retry-After (a 500, a cut-off answer or a connection
    error fails the clients), and the database must be what the clients were told, with
    resends applied once."""

    CONF = boards.board_conf(extra="    TaskBoardConflictPolicy off\n" + RETRY_TABLES) + MPM
    SAMPLE_DATA = ("started", "teardown")

    def test_tb_900_07(self, env, httpd, db):
        httpd.expect_log(*OUTAGE_LOG)
        parent = httpd.pid()
        before = storm.revision(db)
        s = storm.Storm("x", [httpd], env.current_test, clients=CLIENTS, resend=True)
        killer = ConnectionKiller(env)
        s.start()
        try:
            s.set_phase("up")
            s.wait_acked(scaled(20), 60, "before the kills")
            s.set_phase("killing")
            killer.start()
            t0 = time.monotonic()
            s.wait(lambda: time.monotonic() - t0 >= scaled(15), scaled(15) + 30,
                   "the kills going on")
            killer.stop.set()
            killer.join(10)
            s.set_phase("after")
            s.wait_acked(scaled(20), 60, "after the kills")
        finally:
            killer.stop.set()
            s.finish(env=env)
        assert killer.error is None, f"the killer failed: {killer.error!r}"
        assert sum(killer.kills.values()) >= 100, f"too few kills: {dict(killer.kills)}"
        assert s.tally.n("sync", "503", "killing") > 0, (
            f"no sync met a killed connection: {s.tally.table()}")
        assert httpd.pid() == parent, "httpd was restarted"
        result = s.verify(db, before)
        tbtest.check_load(httpd.get("/api/load"), self.board, db)
        report("900_07 connections killed", {"kills": dict(killer.kills),
                                             "outcomes": s.tally.table(), **result})

    def test_tb_900_08(self, env, httpd, db):
        # Statements interrupted (KILL QUERY, and nothing else) while cards are moved and
        # removed: what a 200 acknowledged is in the database.  MariaDB 10.11 answers a DELETE
        # whose ON DELETE CASCADE it interrupted with OK and 0 rows, the row still there (seen
        # here as acknowledged removals of cards that stayed); the module must not take that
        # for "removed already".
        httpd.expect_log(*OUTAGE_LOG)
        n, workers = scaled(1600), 4
        tag = "kq-"
        with db.conn().cursor() as cur:
            cur.executemany("INSERT INTO tasks (name, status, weight) VALUES (%s, 'todo', 1)",
                            [(f"{tag}{i}",) for i in range(n)])
            cur.execute("INSERT INTO assignments (event, resource, units) SELECT id, 1, 50 "
                        "FROM tasks WHERE name LIKE %s", (tag + "%",))
        cards = dict(db.query("SELECT t.id, a.id FROM tasks t JOIN assignments a "
                              "ON a.event = t.id WHERE t.name LIKE %s", (tag + "%",)))
        assert len(cards) == n
        rids = iter(range(9080000000, 9090000000))
        lock = threading.Lock()
        problems, outcomes = [], collections.Counter()

        def save(changes: dict) -> dict:
            """Sends changes until they are acknowledged (a 503 may or may not have applied
            them: the same changes again, under a new requestId, as a client does)."""
            with requests.Session() as session:
                for _ in range(200):
                    with lock:
                        rid = next(rids)
                    r = session.post(httpd.url("/api/sync"), timeout=30,
                                     json={"type": "sync", "requestId": rid, **changes},
                                     headers={"X-TB-Test": env.current_test})
                    with lock:
                        outcomes[r.status_code] += 1
                    if r.status_code == 200:
                        return r.json()
                    assert r.status_code == 503, tbtest.describe(r)
                    storm.check_unavailable(r, "sync", rid)
                    time.sleep(0.01)
            raise AssertionError(f"not acknowledged after 200 attempts: {changes}")

        def work(ids):
            # checked as root: the killer interrupts only the board user's statements
            check = pymysql.connect(unix_socket=os.path.join(env.state_dir, "mariadb",
                                                             "mysqld.sock"),
                                    user="root", password="", database=tbtest.DB_NAME,
                                    autocommit=True)
            try:
                with check.cursor() as cur:
                    for tid in ids:
                        save({"tasks": {"updated": [{"id": tid, "status": "doing"}]}})
                        cur.execute("SELECT status FROM tasks WHERE id = %s", (tid,))
                        status = cur.fetchall()
                        if status != (("doing",),):
                            problems.append(f"card {tid}: move acknowledged, {status}")
                        save({"tasks": {"removed": [{"id": tid}]}})
                        cur.execute("SELECT 'task', id FROM tasks WHERE id = %s UNION ALL "
                                    "SELECT 'assignment', id FROM assignments WHERE id = %s",
                                    (tid, cards[tid]))
                        left = cur.fetchall()
                        if left:
                            problems.append(f"card {tid}: removal acknowledged, left {left}")
            finally:
                check.close()

        killer = ConnectionKiller(env, weights=(0, 1, 0), pause=(0.001, 0.004))
        killer.start()
        try:
            ids = sorted(cards)
            with concurrent.futures.ThreadPoolExecutor(workers) as pool:
                for f in [pool.submit(work, ids[k::workers]) for k in range(workers)]:
                    f.result()
        finally:
            killer.stop.set()
            killer.join(10)
        assert killer.error is None, f"the killer failed: {killer.error!r}"
        report("900_08 statements interrupted", {"cards": n, "kills": dict(killer.kills),
                                                 "answers": dict(outcomes)})
        assert outcomes[503] > 0, f"no statement was interrupted: {dict(outcomes)}"
        assert not problems, problems


class TestGracefulRestarts:
    """apache2 -k graceful and -k graceful-stop (then a start) during a load and sync storm,
    under the revision check (clients reload and save again on 409)."""

    CONF = boards.board_conf(extra=RETRY_TABLES) + MPM
    SAMPLE_DATA = ("started", "teardown")

    @classmethod
    def cleanup_class(cls, httpd):
        # a test that failed while it had the server stopped leaves none
        if httpd.pid() is None:
            httpd.start()

    def test_tb_900_02(self, env, httpd, db):
        # No acknowledged change is lost; the only errors are refused connections (while the
        # server is stopped) and connections reset or closed without an answer (counted); a
        # 500, a cut-off answer or a timeout fails the clients.  A graceful restart keeps the
        # listening socket, so it must refuse nothing.
        before = storm.revision(db)
        s = storm.Storm("g", [httpd], env.current_test, clients=CLIENTS, check_revision=True,
                        resend=True, allowed_conn=("refused", "reset", "closed"))
        parent = httpd.pid()
        generations = []
        s.start()
        try:
            for cycle in range(scaled(2)):
                s.set_phase("steady")
                s.wait_acked(scaled(30), 60, "before the graceful restart")
                s.set_phase("graceful")
                old = procfs.children(parent)
                t0 = time.monotonic()
                storm.apache_signal(httpd, "graceful")
                tbtest.poll(lambda: (procfs.children(parent)
                                     and not procfs.children(parent) & old), 30,
                            what="the old generation of children gone")
                generations.append({"old": len(old), "new": len(procfs.children(parent)),
                                    "replaced_s": round(time.monotonic() - t0, 2)})
                s.wait_acked(scaled(30), 60, "after the graceful restart")
                assert httpd.pid() == parent
            for cycle in range(scaled(1)):
                s.set_phase("steady")
                s.wait_acked(scaled(30), 60, "before the graceful stop")
                s.set_phase("graceful-stop")
                t0 = time.monotonic()
                storm.apache_signal(httpd, "graceful-stop")
                tbtest.poll(lambda: not tbtest.pid_alive(parent), 30,
                            what=f"httpd {parent} gone after graceful-stop")
                stopped = time.monotonic() - t0
                s.set_phase("starting")
                httpd.start()
                parent = httpd.pid()
                generations.append({"graceful_stop_s": round(stopped, 2)})
                s.set_phase("started")
                s.wait_acked(scaled(30), 60, "after the start")
        finally:
            s.finish(env=env)
        result = s.verify(db, before)
        t = s.tally
        assert t.n(phase="graceful", kind="refused") == 0, t.table()
        tbtest.check_load(httpd.get("/api/load"), self.board, db)
        report("900_02 graceful", {
            "graceful_restarts": scaled(2), "graceful_stops": scaled(1),
            "generations": generations,
            "refused": t.n(kind="refused"), "reset": t.n(kind="reset"),
            "closed": t.n(kind="closed"), "503": t.n(kind="503"), **result})


# A well-defined number of database connections: exactly two processes (ServerLimit), and per
# process one idle connection kept (DBDMin = DBDKeep = 1); more are made under load (up to
# DBDMax) and closed again one second after they fall idle (DBDExptime), which mod_dbd's pool does
# when a request of that process gives its connection back.
POOL = """\
StartServers 2
ServerLimit 2
ThreadsPerChild 8
MinSpareThreads 1
MaxSpareThreads 16
MaxRequestWorkers 16
DBDMin 1
DBDKeep 1
DBDMax 4
DBDExptime 1
"""
N_BIG = 20000


def load_path(prefix: str, rid: int, stores=("tasks", "assignments")) -> str:
    package = {"type": "load", "requestId": rid, "stores": list(stores)}
    return f"{prefix}/load?data=" + urllib.parse.quote(json.dumps(package), safe="")


def card_sync(rid: int, name: str, resource: int) -> dict:
    return {"type": "sync", "requestId": rid,
            "tasks": {"added": [{"$PhantomId": f"_generatedEventModel_{name}", "name": name,
                                 "status": "todo"}]},
            "assignments": {"added": [{"$PhantomId": f"_generatedAssignmentModel_{name}",
                                       "eventId": f"_generatedEventModel_{name}",
                                       "resourceId": resource}]}}


class TestClientsGoAway:
    """Clients that disconnect in the middle of an upload or a download, or right after
    sending a sync: no connection, transaction or query is left behind, and the server
    answers normally afterwards."""

    CONF = (boards.board_conf("/api", extra=RETRY_TABLES)
            + boards.board_conf("/dl", table_prefix="dl_") + POOL)

    BOARD = boards.board_conf("/api")
    big = tbtest.parse_board(boards.board_conf("/dl", table_prefix="dl_"))
    SAMPLE_DATA = ("setup", "teardown")

    @classmethod
    def prepare_class(cls, db):
        storm.make_big_board(db, "dl_", N_BIG)
        assert db.count("dl_tasks") == N_BIG and db.count("dl_assignments") == 2 * N_BIG

    @classmethod
    def cleanup_class(cls, db):
        storm.drop_big_board(db, "dl_")

    def settle(self, env, httpd, timeout: float = 30) -> dict:
        """Polls until no transaction is open, no board connection is busy, and the board
        user holds exactly one connection per httpd process (DBDKeep).  Each round first sends
        a few small loads: they give connections back, which is when the pool closes the
        expired ones."""
        procs = procfs.children(httpd.pid())
        assert len(procs) == 2, procs
        state = {}

        def settled():
            for i in range(4):
                r = httpd.get(load_path("/api", 9000 + i, ["columns"]),
                              headers={"Connection": "close"})
                assert r.status_code == 200, tbtest.describe(r)
            conns = storm.board_connections(env)
            state.update(connections=len(conns), trx=storm.open_transactions(env),
                         busy=[c for c in conns if c[1] != "Sleep"])
            return (not state["trx"] and not state["busy"]
                    and state["connections"] == len(procs))

        t0 = time.monotonic()
        try:
            tbtest.poll(settled, timeout, interval=0.3, what="the pool back at its baseline")
        except TimeoutError:
            raise AssertionError(f"connections, transactions or queries left behind: {state}")
        state["settled_s"] = round(time.monotonic() - t0, 2)
        assert procfs.children(httpd.pid()) == procs, "httpd processes were replaced"
        return state

    def answers_normally(self, env, httpd, db):
        """Loads on every pooled connection (more at once than DBDMax per process), a page of
        the big board, and a sync."""
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            rs = list(ex.map(lambda i: httpd.get(load_path("/api", 9100 + i, ["tasks",
                                                                             "assignments"]),
                                                 headers={"Connection": "close"}),
                             range(16)))
        for i, r in enumerate(rs):
            tbtest.check_load(r, self.board, db, stores=["tasks", "assignments"],
                              request_id=9100 + i)
        p = {"type": "load", "stores": [{"storeId": "tasks", "page": 97, "pageSize": 50}]}
        r = httpd.get("/dl/load?data=" + urllib.parse.quote(json.dumps(p)))
        tbtest.check_load(r, self.big, db, stores=["tasks"], pages={"tasks": (97, 50)})
        before = storm.revision(db)
        r = tbtest.sync_post(httpd, card_sync(9200, f"after {env.current_test}", 2))
        body = tbtest.check_sync(r, self.board, db, request_id=9200)
        assert body["revision"] == before + 1

    def access_lines(self, env, httpd, needle: str):
        with open(f"{httpd.root}/logs/access_log", errors="replace") as f:
            return [ln for ln in f if needle in ln and f'"{env.current_test}"' in ln]

    def test_tb_900_03(self, env, httpd, db):
        # mid-upload: the headers announce a 3,000-card sync, half of it arrives, the client
        # closes (a FIN or a RST, alternately); nothing is written
        base = self.settle(env, httpd)
        cards = [{"$PhantomId": f"_generatedEventModel_up{i}", "name": f"upload {i}",
                  "status": "doing", "description": "x" * 40} for i in range(3000)]
        body = json.dumps({"type": "sync", "requestId": 9300, "tasks": {"added": cards}})
        body = body.encode()
        n = scaled(20)
        with tbtest.Unchanged(db):
            for i in range(n):
                sent = storm.abort_upload(httpd.port, "/api/sync", body, env.current_test,
                                          rst=i % 2 == 1)
                assert 0 < sent < len(body)
            after = self.settle(env, httpd)
        # httpd saw every one of them, and answered none with success
        lines = tbtest.poll(lambda: (lambda x: x if len(x) >= n else None)(
            self.access_lines(env, httpd, "POST /api/sync")), 10, what="access log lines")
        statuses = sorted({ln.split('"')[2].split()[0] for ln in lines})
        assert len(lines) == n and "200" not in statuses, lines
        self.answers_normally(env, httpd, db)
        report("900_03 mid-upload", {"uploads_cut": n, "body_bytes": len(body),
                                     "statuses_logged": statuses, "baseline": base,
                                     "after": after})

    def test_tb_900_04(self, env, httpd, db):
        # mid-download: the load of a 20,000-card board (40,000 assignments), four at a time;
        # each client reads 8 KB of it and closes (FIN or RST)
        base = self.settle(env, httpd)
        n = scaled(20)
        path = load_path("/dl", 9400)

        def cut(i):
            return storm.abort_download(httpd.port, path, env.current_test, rst=i % 2 == 1)

        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            got = list(ex.map(cut, range(n)))
        for g in got:
            assert g.startswith(b"HTTP/1.1 200 "), g[:200]
        after = self.settle(env, httpd)
        cut_s = time.monotonic() - t0
        # one whole load, for its size
        r = httpd.get(path)
        body = tbtest.json_body(r)
        assert r.status_code == 200 and len(body["tasks"]["rows"]) == N_BIG
        assert body["assignments"]["total"] == 2 * N_BIG
        full = len(r.content)
        # httpd logged each cut-off load with a fraction of the board sent (%O: the bytes
        # that went to the network; %B counts the whole answer handed to httpd at once)
        lines = self.access_lines(env, httpd, "GET /dl/load")
        sent = sorted(int(ln.split('"')[2].split()[2]) for ln in lines)
        assert len(lines) == n + 1 and sent[-1] >= full and all(b < full for b in sent[:-1]), (
            sent, full)
        self.answers_normally(env, httpd, db)
        report("900_04 mid-download", {"downloads_cut": n, "board_bytes": full,
                                       "bytes_sent_to_cut_clients": [sent[0], sent[-2]],
                                       "cut_and_settled_s": round(cut_s, 2),
                                       "baseline": base, "after": after})

    def test_tb_900_05(self, env, httpd, db):
        # a client sends a whole sync (a card and its assignee) and goes away before the
        # answer: the sync is applied completely or not at all; sent again under a new
        # requestId (the client's retry) it exists exactly once
        base = self.settle(env, httpd)
        n = scaled(10)
        rev0 = storm.revision(db)
        names = [f"vanish-{i}" for i in range(n)]
        # the whole request is in the server's socket before the close (TCP delivers data
        # queued ahead of a RST), so httpd reads, handles and logs every one of them; six at a
        # time, so that they do not queue for the pool's eight connections
        for i, name in enumerate(names):
            raw = json.dumps(card_sync(9500 + i, name, 1 + i % 7)).encode()
            storm.send_and_vanish(httpd.port, "/api/sync", raw, env.current_test,
                                  rst=i % 2 == 1)
            if i % 6 == 5 or i == n - 1:
                lines = tbtest.poll(lambda: (lambda x: x if len(x) >= i + 1 else None)(
                    self.access_lines(env, httpd, "POST /api/sync")), 15,
                    what="access log lines")
        statuses = sorted({ln.split('"')[2].split()[0] for ln in lines})
        after = self.settle(env, httpd)
        first = {}
        for name in names:
            rows = db.query("SELECT t.id, a.id, a.resource FROM tasks t LEFT JOIN assignments a "
                            "ON a.event = t.id WHERE t.name = %s", (name,))
            assert len(rows) <= 1 and all(r[1] is not None for r in rows), (name, rows)
            if rows:
                first[name] = rows[0][:2]
        rev1 = storm.revision(db)
        assert rev1 - rev0 == len(first), (rev0, rev1, first)
        for i, name in enumerate(names):
            r = tbtest.sync_post(httpd, card_sync(9600 + i, name, 1 + i % 7))
            body = tbtest.check_sync(r, self.board, db, request_id=9600 + i)
            got = (body["tasks"]["rows"][0]["id"], body["assignments"]["rows"][0]["id"])
            if name in first:
                assert got == first[name], (name, got, first[name])
            assert db.scalar("SELECT COUNT(*) FROM tasks WHERE name = %s", (name,)) == 1
        assert storm.revision(db) - rev0 == n
        self.answers_normally(env, httpd, db)
        report("900_05 send and vanish", {"syncs": n, "applied_before_resend": len(first),
                                          "statuses_logged": statuses,
                                          "baseline": base, "after": after})


class TestDbKilledDuringStormReconnecting(KillStorm):
    """An administrator who leaves reconnect=0 out: the MySQL client then reconnects silently
    (mod_dbd's ping on a pooled connection, or a command after a lost connection), into a new
    session in autocommit mode without the statements prepared on the old one.  No sync may
    be applied in part or lost all the same."""

    TAG = "kr"

    @classmethod
    def conf(cls, env) -> str:
        # test.conf comes after the base DBDParams, so this line replaces it
        return super().conf(env) + (
            f'DBDParams "host=127.0.0.1 port={env.db_port} user={tbtest.DB_USER} '
            f'pass={tbtest.DB_PASS} dbname={tbtest.DB_NAME} group=taskboard"\n')

    def test_tb_900_06(self, env, httpd, db):
        self.kill_storm(env, httpd, db, "900_06 db kill, reconnecting driver")
