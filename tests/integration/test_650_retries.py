"""Retried syncs never apply twice (TaskBoardRetryTables, as in conf/taskboard.conf).

When the answer to a committed sync is lost, the Bryntum client keeps its changes and sends them
again with its next sync, under a new requestId but with the same $PhantomIds: the records it
added must not be added again.  A transport-level resend of the same body under the same
requestId gets the first answer replayed.  A different body under a used requestId is new."""

import json
import threading

import requests

import tbtest
from tbtest import Unchanged, check_sync, sync_post

ADD = {"type": "sync", "requestId": 100,
       "assignments": {"added": [{"$PhantomId": "_generatedAssignmentModel_a1",
                                  "eventId": "_generatedEventModel_t1", "resourceId": 3}]},
       "tasks": {"added": [{"$PhantomId": "_generatedEventModel_t1", "name": "Retry me",
                            "status": "todo"}]}}


def with_request_id(package: dict, rid) -> dict:
    p = json.loads(json.dumps(package))
    p["requestId"] = rid
    return p


def retry_rows(db, table: str):
    return db.scalar(f"SELECT COUNT(*) FROM `{table}`")


class TestRetries:

    CONF = tbtest.sample_test_conf()
    CACHE_OFF = True
    SAMPLE_DATA = ("test", "teardown")

    @classmethod
    def prepare_class(cls):
        assert "TaskBoardRetryTables" in cls.CONF

    def post(self, httpd, db, package, request_id=tbtest.MISSING):
        r = sync_post(httpd, package)
        return check_sync(r, self.board, db, request_id=request_id)

    def test_tb_650_01(self, httpd, db):
        # the answer was lost: the same adds under a new requestId map to the same rows, add
        # nothing, and leave the revision alone (nothing changed)
        first = self.post(httpd, db, ADD, request_id=100)
        tasks, assignments = db.count("tasks"), db.count("assignments")
        with Unchanged(db, tbtest.ALL_BUT_ANSWERS):
            again = self.post(httpd, db, with_request_id(ADD, 101), request_id=101)
        assert again["tasks"]["rows"] == first["tasks"]["rows"]
        assert again["assignments"]["rows"] == first["assignments"]["rows"]
        assert again["revision"] == first["revision"]
        assert (db.count("tasks"), db.count("assignments")) == (tasks, assignments)
        assert db.scalar("SELECT COUNT(*) FROM tasks WHERE name = 'Retry me'") == 1

    def test_tb_650_02(self, httpd, db):
        # the client changed the card before resending: the change is applied to the same row,
        # once, and raises the revision once
        first = self.post(httpd, db, ADD)
        changed = with_request_id(ADD, 102)
        changed["tasks"]["added"][0]["name"] = "Retry me, renamed"
        again = self.post(httpd, db, changed)
        tid = first["tasks"]["rows"][0]["id"]
        assert again["tasks"]["rows"][0]["id"] == tid
        assert again["tasks"]["rows"][0]["name"] == "Retry me, renamed"
        assert again["revision"] == first["revision"] + 1
        assert db.query("SELECT name FROM tasks WHERE id = %s", (tid,)) == [
            ("Retry me, renamed",)]
        assert db.scalar("SELECT COUNT(*) FROM tasks WHERE name LIKE 'Retry me%%'") == 1

    def test_tb_650_03(self, httpd, db):
        # a later sync that still carries the old phantom task and adds a new assignment to it:
        # the assignment points at the task's real id, no second task appears
        first = self.post(httpd, db, ADD)
        tid = first["tasks"]["rows"][0]["id"]
        later = with_request_id(ADD, 103)
        later["assignments"]["added"].append({"$PhantomId": "_generatedAssignmentModel_a2",
                                              "eventId": "_generatedEventModel_t1",
                                              "resourceId": 4})
        body = self.post(httpd, db, later)
        rows = {r["$PhantomId"]: r for r in body["assignments"]["rows"]}
        assert rows["_generatedAssignmentModel_a2"]["eventId"] == tid
        assert db.query("SELECT resource FROM assignments WHERE event = %s ORDER BY resource",
                        (tid,)) == [(3,), (4,)]

    def test_tb_650_04(self, httpd, db):
        # an identical resend under the same requestId: the first answer, byte for byte, even
        # after the board moved on; nothing applied again
        r1 = sync_post(httpd, ADD)
        assert r1.status_code == 200
        self.post(httpd, db, {"type": "sync", "requestId": 7,
                              "tasks": {"updated": [{"id": 1, "status": "done"}]}})
        with Unchanged(db):
            r2 = sync_post(httpd, ADD)
        assert r2.status_code == 200
        assert r2.content == r1.content

    def test_tb_650_05(self, httpd, db):
        # a different body under a requestId already seen is a new request: requestIds are only
        # a timestamp and a counter, two clients can send the same one
        self.post(httpd, db, ADD, request_id=100)
        other = {"type": "sync", "requestId": 100,
                 "tasks": {"added": [{"$PhantomId": "_generatedEventModel_other",
                                      "name": "Other client's card"}]}}
        body = self.post(httpd, db, other, request_id=100)
        assert body["tasks"]["rows"][0]["name"] == "Other client's card"
        assert db.scalar("SELECT COUNT(*) FROM tasks WHERE name = %s",
                         ("Other client's card",)) == 1

    def test_tb_650_06(self, httpd, db):
        # a record added, then removed by someone else, then the lost add comes again: it is not
        # brought back; the answer maps the phantom id and reports the record removed
        first = self.post(httpd, db, ADD)
        tid = first["tasks"]["rows"][0]["id"]
        aid = first["assignments"]["rows"][0]["id"]
        self.post(httpd, db, {"type": "sync", "requestId": 8, "tasks": {"removed": [{"id": tid}]}})
        with Unchanged(db, tbtest.ALL_BUT_ANSWERS):
            body = self.post(httpd, db, with_request_id(ADD, 106))
        assert {"$PhantomId": "_generatedEventModel_t1", "id": tid} in body["tasks"]["rows"]
        assert {"id": tid} in body["tasks"]["removed"]
        assert {"id": aid} in body["assignments"]["removed"]
        assert db.scalar("SELECT COUNT(*) FROM tasks WHERE id = %s", (tid,)) == 0

    def test_tb_650_07(self, httpd, db):
        # string-key stores too: a column added again is updated, not refused as a duplicate
        add = {"type": "sync", "requestId": 1,
               "columns": {"added": [{"$PhantomId": "_c1", "id": "blocked", "text": "Blocked"}]}}
        self.post(httpd, db, add)
        again = with_request_id(add, 2)
        again["columns"]["added"][0]["text"] = "Blocked!"
        body = self.post(httpd, db, again)
        assert body["columns"]["rows"][0]["id"] == "blocked"
        assert db.query("SELECT text FROM columns WHERE id = 'blocked'") == [("Blocked!",)]

    def test_tb_650_08(self, httpd, db):
        # the same sync sent by several connections at once (new requestIds): one task, one
        # assignment, every answer with the same ids
        answers, errors = [], []

        def send(i):
            try:
                r = requests.post(httpd.url("/api/sync"), json=with_request_id(ADD, 200 + i),
                                  headers={"Connection": "close"}, timeout=30)
                answers.append(r)
            except Exception as e:
                errors.append(repr(e))

        threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert [r.status_code for r in answers] == [200] * 6, [r.text for r in answers]
        ids = {(r.json()["tasks"]["rows"][0]["id"], r.json()["assignments"]["rows"][0]["id"])
               for r in answers}
        assert len(ids) == 1
        assert db.scalar("SELECT COUNT(*) FROM tasks WHERE name = 'Retry me'") == 1
        assert db.scalar("SELECT COUNT(*) FROM assignments a JOIN tasks t ON a.event = t.id "
                         "WHERE t.name = 'Retry me'") == 1

    def test_tb_650_09(self, httpd, db):
        # records are kept for the retention, then pruned by the module (once a minute per
        # process; a freshly started server prunes on its first sync)
        self.post(httpd, db, ADD)
        assert retry_rows(db, "taskboard_phantoms") == 2
        assert retry_rows(db, "taskboard_requests") == 1
        db.execute("UPDATE taskboard_phantoms SET created_at = NOW() - INTERVAL 8 DAY")
        db.execute("UPDATE taskboard_requests SET created_at = NOW() - INTERVAL 8 DAY")
        # younger than the retention (7 days): kept, however long ago within it
        db.execute("INSERT INTO taskboard_phantoms (tbl, phantom, user, real_id, created_at) "
                   "VALUES ('tasks', '_young', '', '1', NOW() - INTERVAL 6 DAY)")
        db.execute("INSERT INTO taskboard_requests (request_id, body_hash, response, "
                   "created_at) VALUES ('young', 'x', '{}', NOW() - INTERVAL 6 DAY)")
        httpd.restart()
        self.post(httpd, db, {"type": "sync", "requestId": 9,
                              "tasks": {"updated": [{"id": 1, "status": "done"}]}})
        tbtest.poll(lambda: retry_rows(db, "taskboard_phantoms") == 1
                    and retry_rows(db, "taskboard_requests") == 2, 10,
                    what="the old retry records pruned")
        assert db.query("SELECT phantom FROM taskboard_phantoms") == [("_young",)]
        assert sorted(db.query("SELECT request_id FROM taskboard_requests")) \
            == [("9",), ("young",)]


class TestPruningPerLocation:
    """Each location prunes its own retry tables and journal once a minute per process: a sync
    of one location does not put off the pruning of another's tables (before, one time per
    process was shared by every location, so a busy board could keep another's tables growing).
    One process (ServerLimit 1), so that both syncs meet the same pruning times."""

    TABLES = ("taskboard_phantoms", "taskboard_requests", "taskboard_journal")
    SAMPLE = tbtest.sample_test_conf()
    SECOND = (SAMPLE.replace("/api", "/b2")
              .replace("TaskBoardRetryTables taskboard_phantoms taskboard_requests",
                       "TaskBoardRetryTables p2_taskboard_phantoms p2_taskboard_requests")
              .replace("TaskBoardJournal taskboard_journal",
                       "TaskBoardJournal p2_taskboard_journal"))
    CONF = SAMPLE + SECOND + tbtest.CACHE_OFF_CONF + "ServerLimit 1\nMaxRequestWorkers 16\n"
    SAMPLE_DATA = ("teardown",)

    @classmethod
    def prepare_class(cls, db):
        for t in cls.TABLES:
            db.execute(f"DROP TABLE IF EXISTS p2_{t}")
            db.execute(f"CREATE TABLE p2_{t} LIKE {t}")
        assert cls.SECOND.count("p2_") == 3

    @classmethod
    def cleanup_class(cls, db):
        for t in cls.TABLES:
            db.execute(f"DROP TABLE IF EXISTS p2_{t}")

    def test_tb_650_20(self, httpd, db):
        db.execute("INSERT INTO p2_taskboard_phantoms (tbl, phantom, user, real_id, created_at) "
                   "VALUES ('tasks', '_old_phantom', '', '1', NOW() - INTERVAL 8 DAY)")
        db.execute("INSERT INTO p2_taskboard_requests (request_id, body_hash, response, "
                   "created_at) VALUES ('old', 'x', '{}', NOW() - INTERVAL 8 DAY)")
        db.execute("INSERT INTO p2_taskboard_journal (revision, tbl, record_id, operation, "
                   "changed_at) VALUES (1, 'tasks', '1', 'updated', NOW() - INTERVAL 8 DAY)")
        for path, rid in (("/api/sync", 65020), ("/b2/sync", 65021)):
            r = httpd.post(path, json={"type": "sync", "requestId": rid, "tasks": {
                "updated": [{"id": 1, "name": f"pruned by {path}"}]}})
            assert r.status_code == 200, tbtest.describe(r)
        tbtest.poll(lambda: retry_rows(db, "p2_taskboard_phantoms") == 0
                    and db.scalar("SELECT COUNT(*) FROM p2_taskboard_requests "
                                  "WHERE request_id = 'old'") == 0
                    and db.scalar("SELECT COUNT(*) FROM p2_taskboard_journal "
                                  "WHERE revision = 1") == 0, 10,
                    what="the second location's old retry records and journal rows pruned")
