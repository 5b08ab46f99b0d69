"""A sync that loses to another transaction (error 1213: an InnoDB deadlock here, a Galera
certification failure on a cluster) runs again from the start, after a growing random pause, up
to 10 times; one that loses every time gets 503 with Retry-After, never 500, and nothing of it
is stored.

The deadlocks are made, not hoped for: a test transaction holds the lock on the board's revision
row; once the sync (which locks the card it moves first, and the revision row last) waits for
it, the test transaction asks for the card.  InnoDB breaks the cycle by rolling back the lighter
transaction, the sync (the test's has inserted 200 rows of ballast).  A second test transaction
queued on the revision row meanwhile takes it over when the first one ends, so that the sync's
next run meets the same trap: one deadlock per round, as many rounds as the test says.
"""

import threading
import time

import pymysql

import storm
import tbtest
from tbtest import DB_NAME, DB_PASS, DB_USER

BALLAST = 200


REVISION_ROW = "SELECT value FROM options WHERE name = 'revision' FOR UPDATE"


class Trap:
    """Two test transactions that take turns holding the revision row."""

    def __init__(self, env, card: int):
        self.env = env
        self.card = card
        self.conns = [self._connect(), self._connect()]
        self.ids = [c.thread_id() for c in self.conns]
        for c in self.conns:
            with c.cursor() as cur:
                cur.execute("CREATE TABLE IF NOT EXISTS deadlock_ballast "
                            "(id INT PRIMARY KEY) ENGINE=InnoDB")
        self.waiter = None

    def _connect(self):
        return pymysql.connect(host="127.0.0.1", port=self.env.db_port, user=DB_USER,
                               password=DB_PASS, database=DB_NAME, autocommit=False,
                               connect_timeout=5)

    def _take_revision(self, k: int):
        """Transaction k: ballast, then the revision row's lock (waits while the other one holds
        it)."""
        with self.conns[k].cursor() as cur:
            cur.execute("BEGIN")
            cur.executemany("INSERT INTO deadlock_ballast VALUES (%s)",
                            [(k * 100000 + i,) for i in range(BALLAST)])
            cur.execute(REVISION_ROW)

    def _waiting_on(self, table: str, ours: bool) -> bool:
        # PROCESSLIST, not INNODB_TRX: InnoDB serves that from a copy up to 0.1 s old, where the
        # sync may still wait for the lock of the round before.  A statement of the board that
        # runs for 0.1 s waits for a lock.
        rows = storm.root_query(
            self.env, "SELECT ID, INFO FROM information_schema.PROCESSLIST "
                      "WHERE USER = %s AND COMMAND <> 'Sleep' AND TIME_MS > 100",
            (DB_USER,))
        return any((tid in self.ids) == ours and f"`{table}`" in (q or "").replace(
            f" {table} ", f" `{table}` ") for tid, q in rows)

    def start(self):
        self._take_revision(0)

    def round(self, k: int, more: bool):
        """Transaction k holds the revision row and the sync waits for it: deadlock.  With more,
        the other transaction is queued on the revision row first, to hold it for the next
        round."""
        tbtest.poll(lambda: self._waiting_on("options", ours=False), 20,
                    what="the sync waiting for the revision row's lock")
        if more:
            self.waiter = threading.Thread(target=self._take_revision, args=(1 - k,))
            self.waiter.start()
            tbtest.poll(lambda: self._waiting_on("options", ours=True), 20,
                        what="the next test transaction queued on the revision row")
        with self.conns[k].cursor() as cur:
            # the cycle: InnoDB rolls the sync back and this statement gets the row
            cur.execute("SELECT id FROM tasks WHERE id = %s FOR UPDATE", (self.card,))
        self.conns[k].rollback()
        if more:
            self.waiter.join(20)
            assert not self.waiter.is_alive()

    def close(self):
        for c in self.conns:
            c.rollback()
        # not through env.db, whose writes raise the board's revision (tbtest.Db._wrote)
        with self.conns[0].cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS deadlock_ballast")
        for c in self.conns:
            c.close()


class TestDeadlocks:

    CONF = tbtest.sample_test_conf()
    CACHE_OFF = True
    SAMPLE_DATA = ("test", "teardown")

    def run(self, env, httpd, db, rounds: int):
        card = db.scalar("SELECT MIN(id) FROM tasks")
        status_before = db.scalar("SELECT status FROM tasks WHERE id = %s", (card,))
        new_status = "done" if status_before != "done" else "doing"
        revision = db.scalar("SELECT value FROM options WHERE name = 'revision'")
        deadlocks = int(db.query("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'")[0][1])
        package = {"type": "sync", "requestId": 9050 + rounds, "revision": int(revision),
                   "tasks": {"updated": [{"id": card, "status": new_status}]}}
        trap = Trap(env, card)
        answer = {}
        try:
            trap.start()
            t = threading.Thread(target=lambda: answer.update(
                resp=tbtest.sync_post(httpd, package)))
            started = time.monotonic()
            t.start()
            for i in range(rounds):
                trap.round(i % 2, more=i + 1 < rounds)
            t.join(60)
            elapsed = time.monotonic() - started
        finally:
            trap.close()
        made = int(db.query("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'")[0][1]) - deadlocks
        assert made == rounds, f"{made} deadlocks, the test meant {rounds}"
        print(f"\n[905] rounds={rounds} status={answer['resp'].status_code} "
              f"seconds={elapsed:.2f}")
        status_after = db.scalar("SELECT status FROM tasks WHERE id = %s", (card,))
        return answer["resp"], status_after == new_status, elapsed

    def test_tb_905_01(self, env, httpd, db):
        # five deadlocks in a row (three runs back to back gave 500 before): the sixth run wins
        resp, applied, _ = self.run(env, httpd, db, 5)
        body = tbtest.check_sync(resp, tbtest.parse_board(self.CONF), db)
        assert body["success"] is True
        assert applied

    def test_tb_905_02(self, env, httpd, db):
        # a deadlock in each of the ten runs: 503 with Retry-After, the card as it was, a warning
        httpd.expect_log("TB00119")
        resp, applied, elapsed = self.run(env, httpd, db, 10)
        tbtest.check_sync_error(resp, 503)
        tbtest.check_retry_after(resp)
        assert not applied
        # the nine pauses between the runs: 0.51 s at least
        assert elapsed >= 0.5
        assert any("TB00119" in ln and "[taskboard:warn]" in ln and "10 runs" in ln
                   for ln in httpd.error_log.recent()), httpd.tail_log()
