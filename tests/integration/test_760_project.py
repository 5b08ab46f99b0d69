"""The project (<TaskBoardProject>): one row per board, loaded as the plain object Gantt and
Scheduler Pro want (`"project":{"calendar":"general","startDate":"2024-01-08"}`, not rows), saved
from the client's flat `"project":{...}` (7.x by default, 5.x with trackProjectModelChanges).

What must hold: every load answer carries the object with the field types converted as for
records (the cached bytes too: a changed project is a new revision, so a new answer); a sync
updates only the fields it sends, in the sync's transaction, raises the revision once and
journals the change like a record's, so that deltas carry it and the record policy refuses a
project change based on a revision older than someone else's project change; invalid values are a
422 with nothing written; under TaskBoardScope every board has its own row.
"""

import json
import urllib.parse

import pytest

import boards
import sse
import tbtest
from tbtest import check_error, describe, sync_post

STORES = """\
    TaskBoardRevision options value name=revision
    TaskBoardJournal taskboard_journal
    TaskBoardConflictPolicy record
    <TaskBoardStore tasks>
        TaskBoardField name   string required
        TaskBoardField status string
    </TaskBoardStore>
    <TaskBoardProject tb_project>
        TaskBoardField calendar    string   maxlength=20
        TaskBoardField startDate   date     column=start_date required
        TaskBoardField hoursPerDay int      column=hours_per_day min=1 max=24
        TaskBoardField daysPerWeek number   column=days_per_week
        TaskBoardField autoSync    boolean  column=auto_sync
        TaskBoardField direction   string   values=Forward,Backward
        TaskBoardField settings    json
        TaskBoardField note        text
        TaskBoardField version     int      readonly
        TaskBoardField updatedAt   datetime column=updated_at stamp=updated-at
    </TaskBoardProject>
"""

# The same board, with the project a row of a table of many picked by keycolumn=value.
KEYED = """
<Location /kv>
    TaskBoardRevision options value name=revision
    <TaskBoardStore tasks>
        TaskBoardField name string required
    </TaskBoardStore>
    <TaskBoardProject tb_projects id=2>
        TaskBoardField calendar string
    </TaskBoardProject>
</Location>
<Location /kv/load>
    SetHandler taskboard-load
</Location>
<Location /kv/sync>
    SetHandler taskboard-sync
</Location>
"""

PROJECT_DDL = [
    "DROP TABLE IF EXISTS tb_project",
    "CREATE TABLE tb_project (calendar VARCHAR(50), start_date DATE NOT NULL,"
    " hours_per_day INT, days_per_week DECIMAL(4,2), auto_sync TINYINT(1), direction VARCHAR(10),"
    " settings JSON, note TEXT, version INT NOT NULL DEFAULT 7, updated_at DATETIME)",
    "DROP TABLE IF EXISTS tb_projects",
    "CREATE TABLE tb_projects (id INT PRIMARY KEY, calendar VARCHAR(50))",
]
PROJECT_SEED = [
    "DELETE FROM tb_project",
    "INSERT INTO tb_project (calendar, start_date, hours_per_day, days_per_week, auto_sync,"
    " direction, settings, note) VALUES ('general', '2024-01-08', 8, 5.5, 1, 'Forward',"
    " '{\"a\": [1, 2]}', NULL)",
    "DELETE FROM tb_projects",
    "INSERT INTO tb_projects (id, calendar) VALUES (1, 'one'), (2, 'two')",
    "DELETE FROM taskboard_journal",
]
COLUMNS = ("calendar, start_date, hours_per_day, days_per_week, auto_sync, direction, settings,"
           " note, version, updated_at")


def load(httpd, path="/api/load", **params):
    q = {"data": json.dumps({"type": "load", "requestId": 1, **params})}
    return httpd.get(path + ("&" if "?" in path else "?") + urllib.parse.urlencode(q))


def sync(httpd, package, path="/api/sync"):
    return sync_post(httpd, {"type": "sync", "requestId": 2, **package}, path=path)


def project_row(db):
    return db.query(f"SELECT {COLUMNS} FROM tb_project")


def revision(db):
    return int(db.scalar("SELECT value FROM options WHERE name = 'revision'"))


def expected_project(db) -> dict:
    """The plain object a load must carry, from the row, typed as the fields are declared."""
    (cal, start, hours, days, auto, direction, settings, note, version, updated), = \
        project_row(db)
    return {"calendar": cal, "startDate": start.isoformat(), "hoursPerDay": hours,
            "daysPerWeek": float(days), "autoSync": bool(auto), "direction": direction,
            "settings": json.loads(settings), "note": note, "version": version,
            "updatedAt": tbtest.db_to_json("datetime", updated)}


class TestProject:

    CONF = (boards.board_conf(stores=STORES) + KEYED + "TaskBoardEventsPoll 200ms\n"
            "<Location /api/events>\n    SetHandler taskboard-events\n</Location>\n")
    SAMPLE_DATA = ("setup", "teardown")

    @classmethod
    def prepare_class(cls, db):
        for sql in PROJECT_DDL:
            db.execute(sql)

    @classmethod
    def cleanup_class(cls, db):
        db.execute("DROP TABLE IF EXISTS tb_project")
        db.execute("DROP TABLE IF EXISTS tb_projects")

    @pytest.fixture(autouse=True)
    def _seed(self, db):
        for sql in PROJECT_SEED:
            db.execute(sql)
        # a revision no earlier test had: cached answers of the board stay those of their
        # revision, as they would in a board whose revision never goes back
        self.r0 = revision(db) + 100
        db.execute("UPDATE options SET value = %s WHERE name = 'revision'", (self.r0,))

    def test_tb_760_01(self, httpd, db):
        # every load carries the project as a plain object, typed as records are (int, number,
        # boolean, date, json, null), without id or rows; also when the client names only
        # stores, or none, and with paging
        expected = expected_project(db)
        assert expected["autoSync"] is True and expected["note"] is None
        for params in ({}, {"stores": ["tasks"]}, {"stores": []},
                       {"stores": [{"storeId": "tasks", "page": 1, "pageSize": 1}]}):
            r = load(httpd, **params)
            assert r.status_code == 200, describe(r)
            body = tbtest.jloads(r.text)
            assert tbtest.strict_equal(body["project"], expected), (params, body["project"])
        assert body["revision"] == self.r0 and "rows" in body["tasks"]
        # the keyed one reads its own row of the table
        r = load(httpd, "/kv/load")
        assert r.status_code == 200, describe(r)
        assert r.json()["project"] == {"calendar": "two"}

    def test_tb_760_02(self, httpd, db):
        # a sync updates the fields it sends and nothing else (unknown fields and readonly ones
        # are ignored), raises the revision once, journals the project like a record and
        # answers the fields the server set (the stamp); a load then shows it
        before = expected_project(db)
        r = sync(httpd, {"revision": self.r0, "project": {
            "calendar": "night", "startDate": "2024-02-01", "autoSync": False,
            "version": 99, "unknownField": "x", "daysPerWeek": 4.5}})
        assert r.status_code == 200, describe(r)
        body = r.json()
        assert body["revision"] == self.r0 + 1, body
        assert set(body["project"]) == {"updatedAt"}, body
        after = expected_project(db)
        assert after == dict(before, calendar="night", startDate="2024-02-01", autoSync=False,
                             daysPerWeek=4.5, updatedAt=body["project"]["updatedAt"])
        assert db.query("SELECT revision, tbl, record_id, operation FROM taskboard_journal") \
            == [(self.r0 + 1, "tb_project", "1", "updated")]
        r = load(httpd)
        assert tbtest.strict_equal(tbtest.jloads(r.text)["project"], after), r.text
        # the keyed location changes its row only
        r = sync(httpd, {"project": {"calendar": "deux"}}, path="/kv/sync")
        assert r.status_code == 200, describe(r)
        assert db.query("SELECT id, calendar FROM tb_projects ORDER BY id") == \
            [(1, "one"), (2, "deux")]

    def test_tb_760_03(self, httpd, db):
        # invalid values: 422 listing each one under store "project", nothing written (the
        # task change in the same sync neither), the revision kept
        tasks = db.query("SELECT id, name FROM tasks ORDER BY id")
        row = project_row(db)
        r = sync(httpd, {"revision": self.r0, "tasks": {"updated": [{"id": 1, "name": "renamed"}]},
                         "project": {"calendar": "x" * 21, "hoursPerDay": 25,
                                     "direction": "Sideways", "startDate": "next week",
                                     "autoSync": "maybe"}})
        body = check_error(r, 422, kind="sync")
        fields = sorted(e["field"] for e in body["errors"])
        assert fields == ["autoSync", "calendar", "direction", "hoursPerDay", "startDate"], body
        assert {e["store"] for e in body["errors"]} == {"project"}
        # a required field cannot be emptied
        r = sync(httpd, {"revision": self.r0, "project": {"startDate": None}})
        body = check_error(r, 422, kind="sync")
        assert [e["field"] for e in body["errors"]] == ["startDate"], body
        # not an object: 400
        r = sync(httpd, {"revision": self.r0, "project": [{"calendar": "x"}]})
        check_error(r, 400, kind="sync")
        assert project_row(db) == row and revision(db) == self.r0
        assert db.query("SELECT id, name FROM tasks ORDER BY id") == tasks
        assert db.scalar("SELECT COUNT(*) FROM taskboard_journal") == 0

    def test_tb_760_04(self, httpd, db):
        # a project that sets no field the server stores changes nothing: no revision, no
        # stamp, no journal row, no project in the answer
        row = project_row(db)
        for project in ({}, {"unknownField": 1, "version": 3}):
            r = sync(httpd, {"revision": self.r0, "project": project})
            assert r.status_code == 200, describe(r)
            assert r.json()["revision"] == self.r0 and "project" not in r.json(), r.text
        assert project_row(db) == row
        assert db.scalar("SELECT COUNT(*) FROM taskboard_journal") == 0

    def test_tb_760_05(self, httpd, db):
        # the project is in the cached answer: a change in the table that did not raise the
        # revision is not seen (the bytes come from the cache), a synced one is at once
        first = load(httpd)
        assert first.status_code == 200, describe(first)
        with db.conn().cursor() as cur:     # a writer that does not raise the revision
            cur.execute("UPDATE tb_project SET calendar = 'behind the back'")
        cached = load(httpd)
        assert cached.text == first.text
        r = sync(httpd, {"revision": self.r0, "project": {"note": "synced"}})
        assert r.status_code == 200, describe(r)
        fresh = load(httpd).json()
        assert fresh["revision"] == self.r0 + 1
        assert fresh["project"]["note"] == "synced"
        assert fresh["project"]["calendar"] == "behind the back"

    def test_tb_760_06(self, httpd, db):
        # a client at revision r0 learns of another's project change in its delta: a load with
        # sinceRevision, an empty sync (poll), and a sync of other records all carry the whole
        # project object as it is now
        r = sync(httpd, {"revision": self.r0, "project": {"calendar": "theirs", "hoursPerDay": 6}})
        assert r.status_code == 200, describe(r)
        now = expected_project(db)
        r = load(httpd, stores=["tasks"], sinceRevision=self.r0)
        assert r.status_code == 200, describe(r)
        assert tbtest.strict_equal(tbtest.jloads(r.text)["project"], now), r.text
        assert "rows" not in r.json()["project"]
        r = sync(httpd, {"revision": self.r0})
        assert r.status_code == 200, describe(r)
        assert r.json()["revision"] == self.r0 + 1
        assert tbtest.strict_equal(tbtest.jloads(r.text)["project"], now), r.text
        r = sync(httpd, {"revision": self.r0, "tasks": {"updated": [{"id": 1, "name": "mine"}]}})
        assert r.status_code == 200, describe(r)
        assert r.json()["revision"] == self.r0 + 2
        assert tbtest.strict_equal(tbtest.jloads(r.text)["project"], now), r.text

    def test_tb_760_07(self, httpd, db):
        # record policy: a project change based on revision r0, after someone else's project
        # change in 6, is a 409 and writes nothing; the same values as theirs are no conflict
        r = sync(httpd, {"revision": self.r0, "project": {"calendar": "theirs"}})
        assert r.status_code == 200, describe(r)
        row = project_row(db)
        r = sync(httpd, {"revision": self.r0, "project": {"calendar": "mine"}})
        body = check_error(r, 409, kind="sync")
        assert [e["store"] for e in body["errors"]] == ["project"], body
        assert project_row(db) == row and revision(db) == self.r0 + 1
        r = sync(httpd, {"revision": self.r0, "project": {"calendar": "theirs"}})
        assert r.status_code == 200, describe(r)
        # based on the current revision, it is saved (the resend above may have raised it:
        # its stamp is written again)
        r = sync(httpd, {"revision": r.json()["revision"], "project": {"calendar": "mine"}})
        assert r.status_code == 200, describe(r)
        assert db.scalar("SELECT calendar FROM tb_project") == "mine"

    def test_tb_760_08(self, httpd, db):
        # no project row: the load has no project, a project change is a 409 (the row is never
        # inserted) and nothing of the sync is written
        db.execute("DELETE FROM tb_project")
        self.r0 = revision(db)      # raised by that outside writer
        r = load(httpd)
        assert r.status_code == 200, describe(r)
        assert "project" not in r.json() and "tasks" in r.json()
        r = sync(httpd, {"revision": self.r0, "tasks": {"updated": [{"id": 1, "name": "renamed"}]},
                         "project": {"calendar": "x"}})
        body = check_error(r, 409, kind="sync")
        assert "project" in body["message"], body
        assert db.scalar("SELECT name FROM tasks WHERE id = 1") != "renamed"
        assert revision(db) == self.r0

    def test_tb_760_09(self, httpd, db):
        # an event stream names "project" among the changed stores of a project change
        with sse.SseStream(httpd) as s:
            assert s.status == 200, s.p.status_line
            ready = [b for b in s.events(2, 10) if b.event == "ready"]   # retry, ready
            assert ready and ready[0].json() == {"revision": self.r0}, ready
            r = sync(httpd, {"revision": self.r0, "project": {"calendar": "live"},
                             "tasks": {"updated": [{"id": 1, "name": "live"}]}})
            assert r.status_code == 200, describe(r)
            event = s.next_event(10)
            assert event is not None, "no event for the project change"
            assert event.json() == {"revision": self.r0 + 1, "stores": ["tasks", "project"]}, \
                event


# Many boards (sql/boards.sql): each board's project is its row of board_project, keyed by the
# scope's column; /own keeps it in the boards table itself, keyed by its id.
SCOPED = """
<Location /b>
    TaskBoardScope board_id param=board int
    TaskBoardRevision boards revision id
    TaskBoardJournal board_journal
    <TaskBoardStore tasks>
        TaskBoardTable board_tasks
        TaskBoardField name string required
    </TaskBoardStore>
    <TaskBoardProject board_project>
        TaskBoardField calendar  string
        TaskBoardField startDate date column=start_date
    </TaskBoardProject>
</Location>
<Location /b/load>
    SetHandler taskboard-load
</Location>
<Location /b/sync>
    SetHandler taskboard-sync
</Location>
<Location /own>
    TaskBoardScope board_id param=board int
    TaskBoardRevision boards revision id
    <TaskBoardStore tasks>
        TaskBoardTable board_tasks
        TaskBoardField name string required
    </TaskBoardStore>
    <TaskBoardProject boards id>
        TaskBoardField title string column=name
    </TaskBoardProject>
</Location>
<Location /own/load>
    SetHandler taskboard-load
</Location>
<Location /own/sync>
    SetHandler taskboard-sync
</Location>
"""


class TestScopedProject:

    CONF = SCOPED

    @classmethod
    def prepare_class(cls, env, db):
        env.db_load(f"{tbtest.REPO}/sql/boards.sql")
        db.execute("DROP TABLE IF EXISTS board_project")
        db.execute("CREATE TABLE board_project (board_id INT PRIMARY KEY, calendar VARCHAR(50),"
                   " start_date DATE)")

    @classmethod
    def cleanup_class(cls, db):
        db.execute("DROP TABLE IF EXISTS board_project")

    @pytest.fixture(autouse=True)
    def _seed(self, db):
        for sql in ["SET FOREIGN_KEY_CHECKS = 0", "DELETE FROM board_journal",
                    "DELETE FROM board_tasks", "DELETE FROM boards",
                    "SET FOREIGN_KEY_CHECKS = 1", "DELETE FROM board_project",
                    "INSERT INTO boards (id, name, revision) VALUES (1, 'one', 10),"
                    " (2, 'two', 20), (3, 'three', 30)",
                    "INSERT INTO board_project VALUES (1, 'cal-1', '2024-01-01'),"
                    " (2, 'cal-2', '2024-02-02')"]:
            db.execute(sql)

    def test_tb_760_20(self, httpd, db):
        # each board loads its own project; a board without a row loads none
        for board, expected in ((1, {"calendar": "cal-1", "startDate": "2024-01-01"}),
                                (2, {"calendar": "cal-2", "startDate": "2024-02-02"})):
            r = load(httpd, f"/b/load?board={board}")
            assert r.status_code == 200, describe(r)
            assert r.json()["project"] == expected, r.text
        r = load(httpd, "/b/load?board=3")
        assert r.status_code == 200 and "project" not in r.json(), describe(r)
        r = load(httpd, "/own/load?board=2")
        assert r.status_code == 200, describe(r)
        assert r.json()["project"] == {"title": "two"}, r.text

    def test_tb_760_21(self, httpd, db):
        # a board's sync changes its own project row, raises its own revision and journals
        # under its board with the board as the id; the other board is untouched
        load(httpd, "/b/load?board=2")       # cached
        r = sync(httpd, {"revision": 10, "project": {"calendar": "night"}},
                 path="/b/sync?board=1")
        assert r.status_code == 200, describe(r)
        assert r.json()["revision"] == 11 and "project" not in r.json(), r.text
        assert db.query("SELECT board_id, calendar FROM board_project ORDER BY board_id") == \
            [(1, "night"), (2, "cal-2")]
        assert db.query("SELECT id, revision FROM boards ORDER BY id") == \
            [(1, 11), (2, 20), (3, 30)]
        assert db.query("SELECT board_id, revision, tbl, record_id FROM board_journal") == \
            [(1, 11, "board_project", "1")]
        assert load(httpd, "/b/load?board=1").json()["project"]["calendar"] == "night"
        assert load(httpd, "/b/load?board=2").json()["project"]["calendar"] == "cal-2"
        # the delta of board 1 carries it
        r = sync(httpd, {"revision": 10}, path="/b/sync?board=1")
        assert r.json()["project"] == {"calendar": "night", "startDate": "2024-01-01"}, r.text
        # a board without a project row: 409, nothing written
        r = sync(httpd, {"revision": 30, "project": {"calendar": "x"}}, path="/b/sync?board=3")
        check_error(r, 409, kind="sync")
        assert db.scalar("SELECT revision FROM boards WHERE id = 3") == 30
        # the project kept in the boards table: its row of the board
        r = sync(httpd, {"project": {"title": "deux"}}, path="/own/sync?board=2")
        assert r.status_code == 200, describe(r)
        assert db.query("SELECT id, name, revision FROM boards ORDER BY id") == \
            [(1, "one", 11), (2, "deux", 21), (3, "three", 30)]
