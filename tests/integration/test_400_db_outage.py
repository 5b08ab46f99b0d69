"""The database goes away under a running httpd: loads get 503 with Retry-After, and work again once
it is back, without restarting httpd."""

import concurrent.futures
import json
import re
import urllib.parse

import pymysql
import pytest

import boards
import storm
import tbtest
from storm import OUTAGE_LOG
from tbtest import check_error, check_load, check_retry_after, describe


def load_path(rid: int) -> str:
    p = json.dumps({"type": "load", "requestId": rid, "stores": ["tasks", "resources",
                                                                "assignments"]})
    return "/api/load?data=" + urllib.parse.quote(p, safe="")


class TestDbOutage:

    CONF = boards.board_conf()

    @pytest.fixture(autouse=True)
    def _db_back(self, env):
        # whatever a test did, the next one starts with the database up
        yield
        if not env.db_running():
            env.db_start()

    def assert_down(self, httpd, rid_base: int, n: int = 4):
        """n loads during the outage: each a 503 with Retry-After, logged by the module with its
        requestId."""
        for i in range(n):
            rid = rid_base + i
            r = httpd.get(load_path(rid))
            check_error(r, 503, request_id=rid)
            check_retry_after(r)
        logged = [ln for ln in httpd.error_log.recent() if "[taskboard:" in ln]
        assert any(re.search(r"\bTB\d{5}\b", ln) for ln in logged), (
            "the module logged nothing about the outage:\n" + "\n".join(httpd.error_log.recent()))
        assert any(str(rid_base) in ln for ln in logged), (
            f"no taskboard log line names requestId {rid_base}:\n" + "\n".join(logged))

    def assert_recovers(self, httpd, db, timeout: float = 15):
        """Polls until a load succeeds; in between only 503 is acceptable.  Then several loads in
        a row (they may land on other children and other pooled connections) must succeed."""
        statuses = []

        def ok():
            r = httpd.get(load_path(4242))
            statuses.append(r.status_code)
            assert r.status_code in (200, 503), describe(r)
            if r.status_code == 503:
                check_error(r, 503, request_id=4242)
            return r.status_code == 200

        tbtest.poll(ok, timeout, interval=0.2, what="a successful load after the outage")
        for i in range(12):
            check_load(httpd.get(load_path(5000 + i)), self.board, db,
                       stores=["tasks", "resources", "assignments"], request_id=5000 + i)
        return statuses

    def test_tb_400_01(self, env, httpd, db):
        # clean shutdown of MariaDB, then start again
        check_load(httpd.get("/api/load"), self.board, db)
        httpd.expect_log(*OUTAGE_LOG)
        env.db_stop()
        self.assert_down(httpd, 4001)
        env.db_start()
        self.assert_recovers(httpd, db)

    def test_tb_400_02(self, env, httpd, db):
        # MariaDB killed (kill -9): pooled connections die without a goodbye
        check_load(httpd.get("/api/load"), self.board, db)
        httpd.expect_log(*OUTAGE_LOG)
        env.db_kill()
        self.assert_down(httpd, 4101)
        env.db_start()
        self.assert_recovers(httpd, db)

    def test_tb_400_03(self, env, httpd, db):
        # MariaDB restarted while httpd was idle: the pooled connections (and any statements
        # prepared on them) are stale when the next load comes
        for i in range(3):
            check_load(httpd.get("/api/load"), self.board, db)
        httpd.expect_log(*OUTAGE_LOG)
        env.db_stop()
        env.db_start()
        self.assert_recovers(httpd, db)

    def test_tb_400_04(self, env, httpd, db):
        # httpd started while the database is down
        httpd.expect_log(*OUTAGE_LOG)
        httpd.stop()
        env.db_stop()
        httpd.start()
        self.assert_down(httpd, 4301)
        env.db_start()
        self.assert_recovers(httpd, db)


class TestStaleStatements:
    """An administrator who leaves out reconnect=0: the MySQL driver then reconnects silently when
    mod_dbd pings a pooled connection after a database restart, and the statements the module
    prepared on that connection are gone on the server (PLATFORM.md: error 2030 on every use).
    The module must prepare them again; every load after the restart succeeds at once."""

    # The load cache is off so that every load runs its page statements, not only the revision's.
    CACHE_OFF = True

    @classmethod
    def prepare_class(cls, env):
        # test.conf comes after the base DBDParams, so this line replaces it
        cls.CONF = boards.board_conf(extra="    TaskBoardJournal taskboard_journal\n") + (
            f'DBDParams "host=127.0.0.1 port={env.db_port} user={tbtest.DB_USER} '
            f'pass={tbtest.DB_PASS} dbname={tbtest.DB_NAME} group=taskboard"\n')

    def paged(self, rid: int) -> str:
        p = json.dumps({"type": "load", "requestId": rid,
                        "stores": [{"storeId": "tasks", "page": 2, "pageSize": 2}, "columns"]})
        return "/api/load?data=" + urllib.parse.quote(p, safe="")

    def test_tb_400_10(self, env, httpd, db):
        # revision and page statements are prepared on every pooled connection first
        for i in range(8):
            check_load(httpd.get(self.paged(6000 + i)), self.board, db,
                       stores=["tasks", "columns"], request_id=6000 + i,
                       pages={"tasks": (2, 2)})
        httpd.expect_log(*OUTAGE_LOG)
        env.db_stop()
        env.db_start()
        for i in range(12):
            check_load(httpd.get(self.paged(6100 + i)), self.board, db,
                       stores=["tasks", "columns"], request_id=6100 + i,
                       pages={"tasks": (2, 2)})

    def test_tb_400_11(self, env, httpd, db):
        # a sync finds its statements prepared on the connection; after a silent reconnect they
        # are gone, and the sync must roll back, prepare again and apply exactly once
        def card_move(rid: int):
            r = tbtest.sync_post(httpd, {"type": "sync", "requestId": rid, "tasks": {
                "updated": [{"id": 1, "name": f"moved {rid}", "weight": rid}]}})
            tbtest.check_sync(r, self.board, db, request_id=rid)
            assert db.scalar("SELECT weight FROM tasks WHERE id = 1") == rid
        for i in range(8):
            card_move(6200 + i)
        rev = db.revision(self.board)
        httpd.expect_log(*OUTAGE_LOG)
        env.db_stop()
        env.db_start()
        for i in range(12):
            card_move(6300 + i)
        assert db.revision(self.board) == rev + 12, "each sync raises the revision exactly once"

    def test_tb_400_12(self, env, httpd, db):
        # what changed since a revision (an empty sync behind, a load with sinceRevision) runs
        # statements kept on the connection too: after a silent reconnect it prepares them again
        def delta(rid: int, since: int, moved: int):
            r = tbtest.sync_post(httpd, {"type": "sync", "requestId": rid, "revision": since})
            body = tbtest.check_sync(r, self.board, db, request_id=rid)
            assert [t["id"] for t in body.get("tasks", {}).get("rows", [])] == [moved], body
            p = json.dumps({"type": "load", "requestId": rid, "sinceRevision": since})
            r = httpd.get("/api/load?data=" + urllib.parse.quote(p, safe=""))
            body = tbtest.check_sync(r, self.board, db, request_id=rid)
            assert [t["id"] for t in body.get("tasks", {}).get("rows", [])] == [moved], body

        def move(rid: int, task: int) -> int:
            r = tbtest.sync_post(httpd, {"type": "sync", "requestId": rid, "tasks": {
                "updated": [{"id": task, "weight": rid}]}})
            return tbtest.check_sync(r, self.board, db, request_id=rid)["revision"]
        for i in range(8):
            rev = move(6400 + i, 2)
            delta(6450 + i, rev - 1, 2)
        httpd.expect_log(*OUTAGE_LOG)
        env.db_stop()
        env.db_start()
        for i in range(12):
            rev = move(6500 + i, 3)
            delta(6550 + i, rev - 1, 3)


class TestKilledStatements:
    """An administrator, or a watchdog such as pt-kill, kills a statement (KILL QUERY) or a
    connection (KILL) of the module while a sync waits for a row lock: the client gets a 503
    with Retry-After, as for any passing outage, and nothing of the sync is stored."""

    CONF = boards.board_conf()

    def killed_sync(self, env, httpd, db, rid: int, kill: str):
        """A sync that renames card 1 waits for the lock a second connection holds on it; the
        waiting connection is killed; returns the answer."""
        holder = pymysql.connect(host="127.0.0.1", port=db.port, user=tbtest.DB_USER,
                                 password=tbtest.DB_PASS, database=tbtest.DB_NAME,
                                 autocommit=False)
        holder_id = holder.thread_id()
        try:
            with holder.cursor() as cur:
                assert cur.execute("SELECT id FROM tasks WHERE id = 1 FOR UPDATE") == 1
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                answer = pool.submit(tbtest.sync_post, httpd, {
                    "type": "sync", "requestId": rid,
                    "tasks": {"updated": [{"id": 1, "name": f"renamed {rid}"}]}})

                def lock_waiter():
                    # PROCESSLIST, not INNODB_TRX: InnoDB serves that from a copy up to 0.1 s
                    # old, where the previous test's killed sync can still be waiting.  Any
                    # other statement of the board takes far less than 0.1 s.
                    assert not answer.done(), (
                        f"the sync did not wait for the lock: {describe(answer.result())}")
                    return storm.root_query(
                        env, "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s "
                             "AND ID <> %s AND COMMAND <> 'Sleep' AND TIME_MS > 100",
                        (tbtest.DB_USER, holder_id))
                waiting = tbtest.poll(lock_waiter, 10, what="the sync waiting for the lock")
                before = storm.board_connections(env), storm.open_transactions(env)
                storm.root_query(env, f"{kill} {int(waiting[0][0])}")
                try:
                    return answer.result(30)
                except concurrent.futures.TimeoutError:
                    now = storm.board_connections(env), storm.open_transactions(env)
                    holder.rollback()       # so that leaving the pool does not wait as well
                    raise AssertionError(f"no answer 30 s after {kill} {waiting}; "
                                         f"before: {before}; now: {now}")
        finally:
            holder.rollback()
            holder.close()

    @pytest.mark.parametrize("kill", ["KILL QUERY", "KILL"])
    def test_tb_400_20(self, env, httpd, db, kill):
        name = db.scalar("SELECT name FROM tasks WHERE id = 1")
        rev = db.revision(self.board)
        httpd.expect_log(*OUTAGE_LOG)
        r = self.killed_sync(env, httpd, db, 4420, kill)
        tbtest.check_sync_error(r, 503, request_id=4420)
        check_retry_after(r)
        assert db.scalar("SELECT name FROM tasks WHERE id = 1") == name
        assert db.revision(self.board) == rev, "the killed sync raised the revision"
        assert any("4420" in ln and "TB00101" in ln for ln in httpd.error_log.recent()), (
            "the kill is not in the error log")
        # the next sync finds a working connection
        r = tbtest.sync_post(httpd, {"type": "sync", "requestId": 4421, "tasks": {
            "updated": [{"id": 1, "name": name}]}})
        tbtest.check_sync(r, self.board, db, request_id=4421)
