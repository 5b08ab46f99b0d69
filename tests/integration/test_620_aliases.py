"""Field aliases (TaskBoardField ... alias=): one column that answers to every name the Bryntum
products give it.  The Gantt names a dependency's ends from/fromEvent/fromTask and to/toEvent/toTask
and an assignment's event/eventId and resource/resourceId; the Scheduler Pro only fromEvent/toEvent
and eventId/resourceId; the Scheduler from/to.  The captured syncs of the real 5.6.2 clients
(protocol.py, PROTOCOL.md section 5) go in verbatim, and every test checks the database.

A sync accepts a field under its name or any alias (the same value under several names is one
value; different values are a 400 and nothing is written); phantom ids are translated whichever
name carried them; an answer's row carries the field under its configured name and under each
alias the record was sent with.  A load sends the configured name only.
"""

import json
import urllib.parse

import tbtest
from protocol import GANTT_SYNC, PRO_SYNC, SCHEDULER_SYNC
from tbtest import (board_state, check_load, check_sync, check_sync_error, check_sync_result,
                    jloads, state_diff, sync_post)

DEPENDENCIES = """CREATE TABLE alias_dependencies (
    id       INT AUTO_INCREMENT PRIMARY KEY,
    from_id  INT NOT NULL,
    to_id    INT NOT NULL,
    type     INT NULL,
    lag      DECIMAL(10,2) NULL,
    lag_unit VARCHAR(10) NULL,
    active   TINYINT(1) NULL,
    CONSTRAINT fk_alias_dep_from FOREIGN KEY (from_id) REFERENCES tasks (id) ON DELETE CASCADE,
    CONSTRAINT fk_alias_dep_to FOREIGN KEY (to_id) REFERENCES tasks (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""


def dependencies_store(events: str) -> str:
    return f"""\
    <TaskBoardStore dependencies>
        TaskBoardTable alias_dependencies
        TaskBoardField from    int     column=from_id required references={events} alias=fromEvent,fromTask
        TaskBoardField to      int     column=to_id   required references={events} alias=toEvent,toTask
        TaskBoardField type    int
        TaskBoardField lag     number
        TaskBoardField lagUnit string  column=lag_unit
        TaskBoardField active  boolean
    </TaskBoardStore>
"""


def location(path: str, text: str) -> str:
    return (f"<Location {path}>\n    TaskBoardRevision options value name=revision\n{text}"
            f"</Location>\n<Location {path}/load>\n    SetHandler taskboard-load\n</Location>\n"
            f"<Location {path}/sync>\n    SetHandler taskboard-sync\n</Location>\n")


RESOURCES = """\
    <TaskBoardStore resources>
        TaskBoardField name string required
    </TaskBoardStore>
"""

# The Gantt's names are the configured ones for assignments (event, resource): the Scheduler
# Pro's eventId/resourceId are the aliases.
GANTT = location("/gantt", """\
    <TaskBoardStore tasks>
        TaskBoardField name        string   required
        TaskBoardField startDate   datetime column=start_date
        TaskBoardField parentId    int      column=parent_id references=tasks
        TaskBoardField parentIndex int      column=weight
    </TaskBoardStore>
""" + RESOURCES + """\
    <TaskBoardStore assignments>
        TaskBoardField event    int    required references=tasks alias=eventId
        TaskBoardField resource int    required references=resources alias=resourceId
        TaskBoardField units    number
    </TaskBoardStore>
""" + dependencies_store("tasks"))

# And the other way round here.
PRO = location("/pro", """\
    <TaskBoardStore events>
        TaskBoardTable tasks
        TaskBoardField name        string   required
        TaskBoardField startDate   datetime column=start_date
    </TaskBoardStore>
""" + RESOURCES + """\
    <TaskBoardStore assignments>
        TaskBoardField eventId    int    column=event    required references=events alias=event
        TaskBoardField resourceId int    column=resource required references=resources alias=resource
        TaskBoardField units      number
    </TaskBoardStore>
""" + dependencies_store("events"))

SCHEDULER = location("/sched", """\
    <TaskBoardStore events>
        TaskBoardTable tasks
        TaskBoardField name        string   required
        TaskBoardField startDate   datetime column=start_date
    </TaskBoardStore>
""" + dependencies_store("events"))


def rows_of(db, sql, args=None):
    return [tuple(r) for r in db.query(sql, args)]


class TestAliases:

    CONF = GANTT + PRO + SCHEDULER
    BOARD = GANTT
    CACHE_OFF = True
    SAMPLE_DATA = ("test", "teardown")

    GANTT_BOARD = tbtest.parse_board(GANTT)
    PRO_BOARD = tbtest.parse_board(PRO)
    SCHEDULER_BOARD = tbtest.parse_board(SCHEDULER)

    @classmethod
    def prepare_class(cls, db):
        db.execute("DROP TABLE IF EXISTS alias_dependencies")
        db.execute(DEPENDENCIES)

    @classmethod
    def cleanup_class(cls, db):
        db.execute("DROP TABLE IF EXISTS alias_dependencies")

    def sync(self, httpd, db, board, path, package, request_id):
        before = board_state(db, board)
        r = sync_post(httpd, package, path=path)
        body = check_sync(r, board, db, request_id=request_id)
        after = board_state(db, board)
        check_sync_result(body, jloads(package) if isinstance(package, str) else package, board,
                          before, after)
        return body, before, after

    @staticmethod
    def row(body, store, phantom):
        rows = [x for x in body[store]["rows"] if x.get("$PhantomId") == phantom]
        assert len(rows) == 1, body
        return rows[0]

    def test_tb_620_01(self, httpd, db):
        # the Gantt's child + dependency + assignment, verbatim: every phantom reference (under
        # from, fromEvent and fromTask; event and eventId) becomes the new task's id in the database,
        # and the answer gives it under each name the client sent
        body, before, after = self.sync(httpd, db, self.GANTT_BOARD, "/gantt/sync", GANTT_SYNC,
                                        17961579239831)
        task = self.row(body, "tasks", "_g:T")
        tid = task["id"]
        assert rows_of(db, "SELECT name, parent_id, weight, start_date FROM tasks WHERE id = %s",
                       (tid,))[0][:3] == ("New child", 1, 2)
        assert rows_of(db, "SELECT from_id, to_id, type, lag_unit, active FROM alias_dependencies") \
            == [(tid, 3, 2, "day", 1)]
        assert rows_of(db, "SELECT event, resource, units FROM assignments WHERE event = %s",
                       (tid,)) == [(tid, 1, 100)]
        dep = self.row(body, "dependencies", "_g:D")
        for name in ("from", "fromEvent", "fromTask"):
            assert dep[name] == tid, dep
        for name in ("to", "toEvent", "toTask"):
            assert dep[name] == 3, dep
        asg = self.row(body, "assignments", "_g:A")
        assert asg["event"] == asg["eventId"] == tid and asg["resource"] == asg["resourceId"] == 1
        # nothing else changed: task 1's effort is not stored here
        diff = state_diff(before, after)
        assert set(diff) == {"tasks", "dependencies", "assignments"}
        assert not diff["tasks"]["changed"] and not diff["tasks"]["removed"]

    def test_tb_620_02(self, httpd, db):
        # the Scheduler Pro's add, verbatim: fromEvent/toEvent and eventId/resourceId, aliases of
        # from/to here, configured names of the assignment's fields there
        body, _, _ = self.sync(httpd, db, self.PRO_BOARD, "/pro/sync", PRO_SYNC, 17961578675791)
        eid = self.row(body, "events", "_g:E")["id"]
        assert rows_of(db, "SELECT from_id, to_id, lag_unit FROM alias_dependencies") \
            == [(eid, 2, "day")]
        assert rows_of(db, "SELECT event, resource FROM assignments WHERE event = %s",
                       (eid,)) == [(eid, 1)]
        assert str(db.scalar("SELECT start_date FROM tasks WHERE id = 2")) == "2024-01-16 00:00:00"
        dep = self.row(body, "dependencies", "_g:D")
        assert dep["from"] == dep["fromEvent"] == eid and dep["to"] == dep["toEvent"] == 2, dep
        assert "fromTask" not in dep and "toTask" not in dep, dep       # not sent: not echoed
        asg = self.row(body, "assignments", "_g:A")
        assert asg["eventId"] == eid and "event" not in asg, asg

    def test_tb_620_03(self, httpd, db):
        # the Scheduler's add, verbatim: from/to, the configured names, and no alias in the answer
        body, _, _ = self.sync(httpd, db, self.SCHEDULER_BOARD, "/sched/sync", SCHEDULER_SYNC,
                               17961578700001)
        eid = self.row(body, "events", "_g:E")["id"]
        assert rows_of(db, "SELECT from_id, to_id, lag_unit FROM alias_dependencies") \
            == [(eid, 1, "d")]
        dep = self.row(body, "dependencies", "_g:D")
        assert dep["from"] == eid and dep["to"] == 1
        assert not {"fromEvent", "fromTask", "toEvent", "toTask"} & set(dep), dep

    def test_tb_620_04(self, httpd, db):
        # an update under an alias, naming a task the same sync adds: the row answers it under the
        # alias and the configured name, translated; a load sends the configured names only
        db.execute("INSERT INTO alias_dependencies (id, from_id, to_id, type) VALUES (50, 1, 2, 2)")
        pkg = {"type": "sync", "requestId": 62004,
               "tasks": {"added": [{"name": "target", "$PhantomId": "_g:N"}]},
               "dependencies": {"updated": [{"id": 50, "toTask": "_g:N", "lag": 2}]}}
        body, _, _ = self.sync(httpd, db, self.GANTT_BOARD, "/gantt/sync", pkg, 62004)
        nid = self.row(body, "tasks", "_g:N")["id"]
        assert rows_of(db, "SELECT from_id, to_id, lag FROM alias_dependencies WHERE id = 50") \
            == [(1, nid, 2)]
        rows = [x for x in body["dependencies"]["rows"] if x["id"] == 50]
        assert rows and rows[0]["to"] == rows[0]["toTask"] == nid, body
        assert "toEvent" not in rows[0], rows[0]

        load = {"type": "load", "requestId": 62005, "stores": ["dependencies", "assignments"]}
        r = httpd.get("/gantt/load?data=" + urllib.parse.quote(json.dumps(load), safe=""))
        out = check_load(r, self.GANTT_BOARD, db, stores=["dependencies", "assignments"],
                         request_id=62005)
        assert out["dependencies"]["rows"] and out["assignments"]["rows"]
        for row in out["dependencies"]["rows"] + out["assignments"]["rows"]:
            assert not {"fromEvent", "fromTask", "toEvent", "toTask", "eventId",
                        "resourceId"} & set(row), row

    def test_tb_620_05(self, httpd, db):
        # two names of one field holding different values: 400 naming the record and both names,
        # and nothing is written (the valid task before it neither)
        cases = [
            ("added", {"dependencies": {"added": [
                {"from": "_g:T", "fromEvent": "_g:T", "fromTask": 2, "to": 3,
                 "$PhantomId": "_g:D"}]}}, ['"$PhantomId":"_g:D"', "from", "fromTask"]),
            ("updated", {"assignments": {"updated": [{"id": 1, "resource": 2, "resourceId": 3}]}},
             ['"id":1', "resource", "resourceId"]),
            ("null under an alias", {"dependencies": {"updated": [
                {"id": 50, "to": 2, "toEvent": None}]}}, ['"id":50', "to", "toEvent"]),
        ]
        db.execute("INSERT INTO alias_dependencies (id, from_id, to_id, type) VALUES (50, 1, 2, 2)")
        for what, sections, names in cases:
            pkg = {"type": "sync", "requestId": 62010,
                   "tasks": {"added": [{"name": "must not be saved", "$PhantomId": "_g:T"}],
                             "updated": [{"id": 1, "name": "must not be saved"}]}}
            pkg.update(sections)
            tables = tbtest.WRITTEN_TABLES + ("alias_dependencies",)
            with tbtest.Unchanged(db, tables):
                r = sync_post(httpd, pkg, path="/gantt/sync")
                body = check_sync_error(r, 400, request_id=62010)
            for name in names:
                assert name in body["message"], f"{what}: {body['message']}"
