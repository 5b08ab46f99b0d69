"""Full sync answers (TaskBoardSyncResponse full), for clients configured with
supportShortSyncResponse: false: the answer mentions every record of the request, the added ones
as in a short answer, every updated one at least as {id}, every removed one as {id} in its
store's `removed`.  The short answer (the default) stays as it was.

The shipped sample configuration serves /api (short) and, with the directive, /full on the same
tables, retry tables and journal.  A package goes to one and then, on the same data again, to the
other: what the database and the journal get is the same, only the answers differ.
"""

import json

import tbtest
from tbtest import Unchanged, board_state, check_sync, check_sync_error, jloads, sync_post

SAMPLE = tbtest.sample_test_conf()
FULL = SAMPLE.replace("/api", "/full").replace(
    "<Location /full>\n", "<Location /full>\n    TaskBoardSyncResponse full\n", 1)

# The same, applying stale syncs (the last writer wins), so that an answer carries what others
# changed since the client's revision.
FULL_OFF = FULL.replace("/full", "/fulloff").replace("TaskBoardConflictPolicy record",
                                                     "TaskBoardConflictPolicy off")
assert FULL_OFF.count("TaskBoardConflictPolicy off") == 1

# Task 1 renamed, task 3 updated with nothing the server stores, task 4 given the value it has,
# task 2 removed (its assignments 3 and 4 go with it), assignment 9 removed by the client, a
# task added.
PACKAGE = {"type": "sync",
           "tasks": {"added": [{"name": "Full", "$PhantomId": "_g:F"}],
                     "updated": [{"id": 1, "name": "Renamed"}, {"id": 3, "effort": 5},
                                 {"id": 4, "prio": "high"}],
                     "removed": [{"id": 2}]},
           "assignments": {"removed": [{"id": 9}]}}


def journal(db, revision):
    return sorted(db.query("SELECT tbl, record_id, operation FROM taskboard_journal "
                           "WHERE revision = %s", (revision,)))


def ids(rows):
    return sorted(x["id"] for x in rows)


class TestFullAnswers:

    CONF = SAMPLE + FULL + FULL_OFF
    CACHE_OFF = True
    SAMPLE_DATA = ("test", "teardown")

    def send(self, httpd, db, path, rid):
        pkg = dict(PACKAGE, requestId=rid)
        rev = int(db.revision(self.board))
        r = sync_post(httpd, pkg, path=path)
        body = check_sync(r, self.board, db, request_id=rid)
        assert body["revision"] == rev + 1, body
        return body, board_state(db, self.board), journal(db, rev + 1)

    def test_tb_630_01(self, httpd, db, env):
        # the same package, full and then short on the same data: the same rows and journal;
        # the full answer confirms every updated record ({id} where the server changed nothing
        # further) and every removal, the short one only what the server chose
        full, full_state, full_journal = self.send(httpd, db, "/full/sync", 63001)
        env.db_load_sample()
        short, short_state, short_journal = self.send(httpd, db, "/api/sync", 63002)

        new_f = [x for x in full["tasks"]["rows"] if "$PhantomId" in x]
        new_s = [x for x in short["tasks"]["rows"] if "$PhantomId" in x]
        assert len(new_f) == len(new_s) == 1 and new_f[0]["$PhantomId"] == "_g:F"
        assert new_f[0] == new_s[0], (new_f, new_s)         # the same id, the same row
        assert full_state == short_state
        assert full_journal == short_journal
        # task 3 changed nothing stored, task 4 got the value it had: no journal row
        assert ("tasks", "3", "updated") not in full_journal
        assert ("tasks", "4", "updated") not in full_journal
        assert ("tasks", "1", "updated") in full_journal

        updated = [x for x in full["tasks"]["rows"] if "$PhantomId" not in x]
        assert updated == [{"id": 1}, {"id": 3}, {"id": 4}], full["tasks"]
        assert ids(full["tasks"]["removed"]) == [2], full["tasks"]
        # the client's own removal and the cascade of task 2 (assignments 3 and 4)
        assert ids(full["assignments"]["removed"]) == [3, 4, 9], full["assignments"]
        assert "rows" not in full["assignments"]

        assert [x for x in short["tasks"]["rows"] if "$PhantomId" not in x] == []
        assert "removed" not in short["tasks"], short["tasks"]
        assert ids(short["assignments"]["removed"]) == [3, 4], short["assignments"]

    def test_tb_630_02(self, httpd, db):
        # a resend of the same request gets the recorded full answer, byte for byte, and
        # writes nothing; the same body and requestId at the short location is not taken
        # for a resend of the full one (it is answered short, the added task not added twice)
        pkg = json.dumps(dict(PACKAGE, requestId=63010))
        first = sync_post(httpd, pkg, path="/full/sync")
        body = check_sync(first, self.board, db, request_id=63010)
        assert [x for x in body["tasks"]["rows"] if "$PhantomId" not in x] == [
            {"id": 1}, {"id": 3}, {"id": 4}]
        stored = db.scalar("SELECT response FROM taskboard_requests WHERE request_id = '63010'")
        assert jloads(stored) == body
        with Unchanged(db):
            again = sync_post(httpd, pkg, path="/full/sync")
            assert again.status_code == 200
            assert again.text == first.text

        added = body["tasks"]["rows"][0]
        short = check_sync(sync_post(httpd, pkg, path="/api/sync"), self.board, db,
                           request_id=63010)
        assert [x for x in short["tasks"]["rows"] if "$PhantomId" not in x] == [], short
        assert [x["id"] for x in short["tasks"]["rows"]] == [added["id"]], short
        assert db.scalar("SELECT COUNT(*) FROM tasks WHERE name = 'Full'") == 1

    def test_tb_630_03(self, httpd, db):
        # all or nothing in full mode too: a failing record (an update of a task that does not
        # exist) leaves every other change of the sync unwritten and answers the error
        pkg = dict(PACKAGE, requestId=63020)
        pkg["tasks"] = dict(pkg["tasks"], updated=pkg["tasks"]["updated"] + [
            {"id": 999, "name": "gone"}])
        with Unchanged(db):
            r = sync_post(httpd, pkg, path="/full/sync")
            body = check_sync_error(r, 409, request_id=63020)
        assert "999" in body["message"] and "rows" not in body and "tasks" not in body

    def test_tb_630_04(self, httpd, db):
        # a stale sync whose updated record others changed since: the full answer mentions it
        # once, whole as it is now (what others changed), not also as {id}; a record only it
        # touched is {id}
        rev = int(db.revision(self.board))
        other = {"type": "sync", "requestId": 63030, "revision": rev,
                 "tasks": {"updated": [{"id": 3, "name": "by someone else"}]}}
        check_sync(sync_post(httpd, other, path="/api/sync"), self.board, db, request_id=63030)
        mine = {"type": "sync", "requestId": 63031, "revision": rev,
                "tasks": {"updated": [{"id": 3, "effort": 5}, {"id": 5, "effort": 1}]}}
        body = check_sync(sync_post(httpd, mine, path="/fulloff/sync"), self.board, db,
                          request_id=63031)
        rows = body["tasks"]["rows"]
        assert sorted(x["id"] for x in rows) == [3, 5], rows
        by_id = {x["id"]: x for x in rows}
        assert by_id[3]["name"] == "by someone else" and by_id[5] == {"id": 5}, rows
