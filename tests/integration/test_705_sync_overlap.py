"""Syncs of different records of one board overlap: a sync takes the lock on the board's revision
row only after its changes, just before it commits, so a sync that waits for a card another
transaction holds does not hold up a sync of another card.  (Before, the revision row was locked
first and every sync of the board waited for the one before it, whatever it touched.)

The overlap is made, not hoped for: a test transaction holds the lock on card A; sync 1 moves
card A and waits for it; sync 2 moves card B and must be answered meanwhile.  Then the test
transaction ends, sync 1 goes on, and the revisions are one per sync, in the order they
committed, with one journal revision each.
"""

import threading
import time

import pymysql

import storm
import tbtest
from tbtest import DB_NAME, DB_PASS, DB_USER, describe


class TestOverlap:

    CONF = tbtest.sample_test_conf()
    CACHE_OFF = True
    SAMPLE_DATA = ("test", "teardown")

    def test_tb_705_01(self, env, httpd, db):
        card_a, card_b = [r[0] for r in db.query("SELECT id FROM tasks ORDER BY id LIMIT 2")]
        before = int(db.scalar("SELECT value FROM options WHERE name = 'revision'"))
        holder = pymysql.connect(host="127.0.0.1", port=env.db_port, user=DB_USER,
                                 password=DB_PASS, database=DB_NAME, autocommit=False)
        holder_id = holder.thread_id()
        answers = {}
        try:
            with holder.cursor() as cur:
                cur.execute("BEGIN")
                assert cur.execute("SELECT id FROM tasks WHERE id = %s FOR UPDATE", (card_a,)) == 1
            first = threading.Thread(target=lambda: answers.update(a=tbtest.sync_post(httpd, {
                "type": "sync", "requestId": 70501, "revision": before,
                "tasks": {"updated": [{"id": card_a, "weight": 7051}]}})))
            first.start()
            # sync 1 waits for card A (PROCESSLIST: INNODB_TRX may show a state 0.1 s old)
            tbtest.poll(lambda: storm.root_query(
                env, "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s AND ID <> %s "
                     "AND COMMAND <> 'Sleep' AND TIME_MS > 100 AND INFO LIKE '%%tasks%%'",
                (DB_USER, holder_id)), 10, what="sync 1 waiting for card A")
            started = time.monotonic()
            r = tbtest.sync_post(httpd, {"type": "sync", "requestId": 70502, "revision": before,
                                         "tasks": {"updated": [{"id": card_b, "weight": 7052}]}})
            took = time.monotonic() - started
            # sync 2 was answered while sync 1 still waited
            assert r.status_code == 200, describe(r)
            assert first.is_alive(), f"sync 1 did not wait: {describe(answers['a'])}"
            assert tbtest.json_body(r)["revision"] == before + 1, describe(r)
        finally:
            holder.rollback()
            holder.close()
        first.join(30)
        a = answers["a"]
        assert a.status_code == 200, describe(a)
        # sync 1 committed second: the next revision, and the other card's change in its answer
        # (the record policy's "others changed", as when it had come later)
        body = tbtest.json_body(a)
        assert body["revision"] == before + 2, describe(a)
        assert any(t["id"] == card_b and t.get("weight") == 7052
                   for t in body.get("tasks", {}).get("rows", [])), describe(a)
        assert db.query("SELECT id, weight FROM tasks WHERE id IN (%s, %s) ORDER BY id",
                        (card_a, card_b)) == [(card_a, 7051), (card_b, 7052)]
        assert db.query("SELECT revision, record_id FROM taskboard_journal WHERE revision > %s "
                        "ORDER BY revision", (before,)) == [(before + 1, str(card_b)),
                                                            (before + 2, str(card_a))]
        print(f"\n[705] sync 2 answered in {took:.3f} s while sync 1 waited")
