"""Board scoping (TaskBoardScope): many boards in the same tables, told apart by a board_id column.
The served configuration is conf/taskboard-boards.conf unchanged (the board comes from a
<LocationMatch> named group), plus a location whose board is a query parameter.

What must hold: a request reads and changes only its own board's rows, whatever ids it sends
(other boards' ids are treated as ids that do not exist), every board has its own revision,
journal, retry records, load cache entries and event feed, and a board without a revision row
does not exist (404)."""

import json
import os
import urllib.parse

import pytest

import sse
import tbtest
from tbtest import describe, check_error

BOARD_TABLES = ("boards", "board_tasks", "board_resources", "board_assignments",
                "board_journal", "board_phantoms", "board_requests")

# The same board through a query parameter (?board=N) instead of the URL.
PARAM_CONF = """
<Location /q>
    TaskBoardScope board_id param=board int
    TaskBoardRevision boards revision id
    <TaskBoardStore tasks>
        TaskBoardTable board_tasks
        TaskBoardField name   string required
        TaskBoardField status string
    </TaskBoardStore>
</Location>
<Location /q/load>
    SetHandler taskboard-load
</Location>
<Location /q/sync>
    SetHandler taskboard-sync
</Location>
"""

# Two boards with the same shape: board 1 (ids 1..), board 2, and board 3 without any row.
SEED = [
    "SET FOREIGN_KEY_CHECKS = 0",
    *[f"DELETE FROM `{t}`" for t in BOARD_TABLES],
    "SET FOREIGN_KEY_CHECKS = 1",
    "INSERT INTO boards (id, name, revision) VALUES (1, 'one', 10), (2, 'two', 20), (3, 'three', 1)",
    "INSERT INTO board_tasks (id, board_id, name, status, weight, parent_id) VALUES "
    "(101, 1, 'one-a', 'todo', 1, NULL), (102, 1, 'one-b', 'doing', 2, 101), "
    "(201, 2, 'two-a', 'todo', 1, NULL), (202, 2, 'two-b', 'done', 2, 201)",
    "INSERT INTO board_resources (id, board_id, name) VALUES (11, 1, 'Ann'), (21, 2, 'Bob')",
    "INSERT INTO board_assignments (id, board_id, event, resource) VALUES "
    "(1001, 1, 101, 11), (2001, 2, 201, 21)",
]
# the schema of many boards in the sample database (its tables, created if they are not there)
BOARDS_SQL = os.path.join(tbtest.REPO, "sql", "boards.sql")


def seed(db, access=None):
    """Puts the boards back to SEED; with `access`, board_access holds exactly those
    (board, user, access) rows."""
    for sql in SEED:
        db.execute(sql)
    if access is not None:
        db.execute("DELETE FROM board_access")
        db.executemany("INSERT INTO board_access (board_id, user, access) VALUES (%s, %s, %s)",
                       access)


def boards_conf(with_access: bool = False) -> str:
    """conf/taskboard-boards.conf; without its last part (who may use which board, test_720)
    unless asked for."""
    with open(os.path.join(tbtest.REPO, "conf", "taskboard-boards.conf")) as f:
        text = f.read()
    if not with_access:
        text = text[:text.index("# Who may use which board")]
    return text + PARAM_CONF


def load(httpd, board, path=None, **params):
    q = {"data": json.dumps({"type": "load", "requestId": 1, **params})}
    return httpd.get((path or f"/boards/{board}/load") + "?" + urllib.parse.urlencode(q))


def sync(httpd, board, package, path=None):
    return tbtest.sync_post(httpd, {"type": "sync", **package},
                            path=path or f"/boards/{board}/sync")


def board_rows(db, board):
    """Every row of the board in the store tables, by table."""
    return {t: db.query(f"SELECT * FROM `{t}` WHERE board_id = %s ORDER BY id", (board,))
            for t in ("board_tasks", "board_resources", "board_assignments")}


class TestBoards:

    CONF = boards_conf()

    @classmethod
    def prepare_class(cls, env):
        env.db_load(BOARDS_SQL)

    @pytest.fixture(autouse=True)
    def _seed(self, db):
        seed(db)

    def test_tb_710_01(self, httpd, db):
        # each board loads its own rows and revision, nothing of the other
        for board, ids, rev in ((1, {101, 102}, 10), (2, {201, 202}, 20)):
            r = load(httpd, board)
            assert r.status_code == 200, describe(r)
            body = r.json()
            assert body["revision"] == rev, body
            assert {t["id"] for t in body["tasks"]["rows"]} == ids, body
            assert body["tasks"]["total"] == 2
            assert [a["id"] for a in body["assignments"]["rows"]] == [board * 1000 + 1], body
            assert "board_id" not in json.dumps(body) and "boardId" not in body["tasks"]["rows"][0]
        # paging counts the board's rows only
        r = load(httpd, 1, stores=[{"storeId": "tasks", "page": 1, "pageSize": 1}])
        assert r.status_code == 200, describe(r)
        assert r.json()["tasks"]["total"] == 2 and len(r.json()["tasks"]["rows"]) == 1

    def test_tb_710_02(self, httpd, db):
        # a sync raises its own board's revision only, adds rows into its own board, and
        # journals under that board; the other board's load stays as it was (and its cached
        # answer is not the first board's)
        assert load(httpd, 2).status_code == 200     # cached at 20
        r = sync(httpd, 1, {"requestId": 2, "revision": 10, "tasks": {
            "added": [{"$PhantomId": "_n", "name": "new one"}],
            "updated": [{"id": 101, "status": "review"}]}})
        assert r.status_code == 200, describe(r)
        body = r.json()
        assert body["revision"] == 11, body
        new_id = body["tasks"]["rows"][0]["id"]
        assert db.scalar("SELECT board_id FROM board_tasks WHERE id = %s", (new_id,)) == 1
        assert db.query("SELECT id, revision FROM boards ORDER BY id") == [(1, 11), (2, 20), (3, 1)]
        assert db.query("SELECT DISTINCT board_id, revision FROM board_journal") == [(1, 11)]
        r2 = load(httpd, 2)
        assert r2.json()["revision"] == 20 and {t["id"] for t in r2.json()["tasks"]["rows"]} \
            == {201, 202}, describe(r2)
        assert {t["id"] for t in load(httpd, 1).json()["tasks"]["rows"]} == {101, 102, new_id}

    def test_tb_710_03(self, httpd, db):
        # Board 1 sends board 2's ids: updates, removals and references to them.  Each is
        # treated as an id that does not exist; board 2 is unchanged in every table.
        before = board_rows(db, 2)
        attempts = [
            ({"tasks": {"updated": [{"id": 201, "name": "stolen"}]}}, 409),
            ({"tasks": {"updated": [{"id": 101, "parentId": 201}]}}, 409),
            ({"assignments": {"added": [{"$PhantomId": "_a", "eventId": 201, "resourceId": 11}]}},
             409),
            ({"assignments": {"added": [{"$PhantomId": "_a", "eventId": 101, "resourceId": 21}]}},
             409),
            ({"assignments": {"updated": [{"id": 1001, "resourceId": 21}]}}, 409),
            ({"assignments": {"updated": [{"id": 2001, "resourceId": 11}]}}, 409),
        ]
        for i, (package, status) in enumerate(attempts):
            r = sync(httpd, 1, {"requestId": 10 + i, "revision": 10, **package})
            assert r.status_code == status, (package, describe(r))
            check_error(r, status, request_id=10 + i, kind="sync")
        # removing another board's rows "succeeds" as removing what is gone already does, and
        # removes nothing: neither the rows nor what would cascade from them
        r = sync(httpd, 1, {"requestId": 20, "revision": 10, "tasks": {"removed": [{"id": 201}]},
                            "resources": {"removed": [{"id": 21}]}})
        assert r.status_code == 200, describe(r)
        assert board_rows(db, 2) == before
        assert db.query("SELECT revision FROM boards WHERE id = 2") == [(20,)]
        assert db.scalar("SELECT COUNT(*) FROM board_journal WHERE board_id = 2") == 0
        # and board 1 kept its own rows through all of it
        assert {r[0] for r in db.query("SELECT id FROM board_tasks WHERE board_id = 1")} \
            == {101, 102}

    def test_tb_710_04(self, httpd, db):
        # retry records are per board: the same requestId and body on board 2 is a new sync
        # there, and the same $PhantomId gets a new row in board 2, not board 1's
        pkg = {"requestId": 30, "tasks": {"added": [{"$PhantomId": "_same", "name": "twin"}]}}
        r1 = sync(httpd, 1, pkg)
        r1b = sync(httpd, 1, pkg)     # an identical resend on board 1: the recorded answer
        r2 = sync(httpd, 2, pkg)
        for r in (r1, r1b, r2):
            assert r.status_code == 200, describe(r)
        id1 = r1.json()["tasks"]["rows"][0]["id"]
        assert r1b.json() == r1.json()
        id2 = r2.json()["tasks"]["rows"][0]["id"]
        assert id1 != id2
        assert db.query("SELECT board_id, name FROM board_tasks WHERE id IN (%s, %s) ORDER BY id",
                        (id1, id2)) == [(1, "twin"), (2, "twin")]
        # a new requestId with the same phantom (the answer was lost): board 2 finds its own
        r3 = sync(httpd, 2, {"requestId": 31, "tasks": {"added": [
            {"$PhantomId": "_same", "name": "twin again"}]}})
        assert r3.status_code == 200, describe(r3)
        assert r3.json()["tasks"]["rows"][0]["id"] == id2
        assert db.scalar("SELECT name FROM board_tasks WHERE id = %s", (id1,)) == "twin"

    def test_tb_710_05(self, httpd, db):
        # deltas are per board: a poll of board 2 behind its revision gets board 2's changes
        # only, while board 1 changed too
        assert sync(httpd, 1, {"requestId": 40, "revision": 10, "tasks": {
            "updated": [{"id": 102, "name": "one-b2"}]}}).status_code == 200
        assert sync(httpd, 2, {"requestId": 41, "revision": 20, "tasks": {
            "updated": [{"id": 202, "name": "two-b2"}]}}).status_code == 200
        r = sync(httpd, 2, {"requestId": 42, "revision": 20})
        assert r.status_code == 200, describe(r)
        body = r.json()
        assert body["revision"] == 21
        assert [t["id"] for t in body["tasks"]["rows"]] == [202], body
        r = load(httpd, 1, sinceRevision=10)
        assert r.status_code == 200, describe(r)
        assert [t["id"] for t in r.json()["tasks"]["rows"]] == [102], r.json()

    def test_tb_710_06(self, httpd, db):
        # a board without a revision row does not exist: 404 on every handler, nothing written
        with tbtest.Unchanged(db, BOARD_TABLES):
            for r in (load(httpd, 4), load(httpd, 4, sinceRevision=1),
                      sync(httpd, 4, {"requestId": 50, "tasks": {"added": [
                          {"$PhantomId": "_x", "name": "nowhere"}]}}),
                      sync(httpd, 4, {"requestId": 51, "revision": 1}),
                      httpd.get("/boards/4/events")):
                kind = r.url.rsplit("/", 1)[-1].split("?")[0]
                check_error(r, 404, kind=kind)
                assert r.json()["message"] == "there is no such board"
        # the spelling of an int board does not matter: 007 is board 7 (none) and 01 board 1
        r = load(httpd, "01")
        assert r.status_code == 200 and r.json()["revision"] == 10, describe(r)

    def test_tb_710_07(self, httpd, db):
        # the board as a query parameter: missing or not a number is a 400, and the parameter
        # scopes exactly like the URL does
        for query, status in (("", 400), ("?board=", 400), ("?board=1x", 400),
                              ("?board=1%00", 400), ("?board=99999999999999999999", 400),
                              ("?board=2", 200)):
            r = httpd.get("/q/load" + query)
            assert r.status_code == status, (query, describe(r))
            if status == 400:
                check_error(r, 400)
                assert "board" in r.json()["message"]
        assert {t["id"] for t in httpd.get("/q/load?board=2").json()["tasks"]["rows"]} \
            == {201, 202}
        before = board_rows(db, 1)
        r = tbtest.sync_post(httpd, {"type": "sync", "requestId": 60, "tasks": {
            "updated": [{"id": 101, "name": "via param"}]}}, path="/q/sync?board=2")
        check_error(r, 409, kind="sync")
        assert board_rows(db, 1) == before

    def test_tb_710_08(self, httpd, db):
        # events are per board: a subscriber of board 1 sees board 1's revision, and nothing
        # of a sync on board 2
        with sse.SseStream(httpd, "/boards/1/events") as s:
            ready = s.next_event(timeout=10)
            while ready is not None and not ready.is_event:    # the retry: block
                ready = s.next_event(timeout=10)
            assert ready.event == "ready" and json.loads(ready.data)["revision"] == 10, ready
            assert sync(httpd, 2, {"requestId": 70, "tasks": {"updated": [
                {"id": 201, "name": "elsewhere"}]}}).status_code == 200
            assert sync(httpd, 1, {"requestId": 71, "tasks": {"updated": [
                {"id": 101, "name": "here"}]}}).status_code == 200
            ev = s.next_event(timeout=10)
            data = json.loads(ev.data)
            assert ev.id == "11" and data["revision"] == 11 and data["stores"] == ["tasks"], ev
