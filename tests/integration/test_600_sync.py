"""The sync request (taskboard-sync): what a successful sync writes, and what its response says.

Every test checks both sides: the HTTP response, and the database before and after the sync
(tbtest.board_state / state_diff / check_sync_result).  Expected values are computed from the
database, from the package that was sent, or from the test's own configuration text; the sample
data is loaded again before each test (env.db_load), so the tests do not depend on their order.
Refusals (400, 405, 413, 415, 422, limits) are in test_610_sync_errors.py.
"""

import datetime
import json
import shlex
import urllib.parse
from types import SimpleNamespace

import boards
import tbtest
from protocol import REAL_LOAD, REAL_SYNC
from tbtest import (MISSING, Unchanged, board_state, check_load, check_sync, check_sync_error,
                    check_sync_result, column_default, jloads, state_diff, sync_post)

# TaskBoard 5.6 (docs/protocol.md section 2): a card added with an assignee, card 5 deleted together
# with its assignments 9 and 10, which the client lists itself.  Verbatim, the shortened phantom
# ids included.
TB56_SYNC = ('{"tasks":{"added":[{"startDate":null,"endDate":null,"duration":null,'
             '"durationUnit":"day","cls":"","name":"Added","exceptionDates":[],"allDay":false,'
             '"status":"todo","prio":"high",'
             '"parentId":null,"$PhantomId":"_generatedModelClass_b0b2…"}],"removed":[{"id":5}]},'
             '"assignments":{"added":[{"resourceId":2,"eventId":"_generatedModelClass_b0b2…",'
             '"$PhantomId":"_generatedModelClass_e9d0…"}],"removed":[{"id":9},{"id":10}]}}')

# TaskBoard 5.6: a card dragged to another column.
TB56_DRAG = '{"tasks":{"updated":[{"status":"done","id":3}]}}'

def conf_option(conf: str, store: str, field: str, option: str):
    """The value of `option=` of a TaskBoardField in a config text (MISSING if not set)."""
    cur = None
    for line in conf.splitlines():
        line = line.strip()
        if line.lower().startswith("<taskboardstore"):
            cur = line[len("<TaskBoardStore"):].strip().rstrip(">").strip()
        elif line.lower().startswith("</taskboardstore"):
            cur = None
        elif cur == store and line.lower().startswith("taskboardfield"):
            words = shlex.split(line)
            if words[1] == field:
                for w in words[3:]:
                    if w.lower().startswith(option + "="):
                        return w.split("=", 1)[1]
    return MISSING


def do_sync(httpd, db, board, package, request_id=MISSING, raises=None,
            phantom_field="$PhantomId", path="/api/sync", **kw):
    """Sends a sync that must succeed, and checks the response against the database before and
    after.  The revision must go up by exactly one when the tables changed (raises=None), or as
    `raises` says.  Returns body, before, after, diff and the revision before."""
    pkg = package if isinstance(package, dict) else jloads(package)
    before = board_state(db, board)
    rev = db.revision(board)
    r = sync_post(httpd, package, path=path, **kw)
    body = check_sync(r, board, db, request_id=request_id)
    after = board_state(db, board)
    check_sync_result(body, pkg, board, before, after, phantom_field=phantom_field)
    diff = state_diff(before, after)
    if rev is not None:
        if raises is None:
            raises = bool(diff)
        assert body["revision"] == int(rev) + (1 if raises else 0), (
            f"revision {body['revision']} after a sync at {rev} (tables changed: {bool(diff)})")
    return SimpleNamespace(body=body, before=before, after=after, diff=diff, rev=rev, pkg=pkg)


def by_phantom(body, store, phantom, field="$PhantomId") -> dict:
    rows = [x for x in body.get(store, {}).get("rows", []) if x.get(field) == phantom]
    assert len(rows) == 1, f"{store}: {phantom!r} not in rows once: {body.get(store)}"
    return rows[0]


def removed_ids(body, store):
    return sorted(x["id"] for x in body.get(store, {}).get("removed", []))


def ids_where(db, sql, args=None):
    return sorted(r[0] for r in db.query(sql, args))


class TestSyncSample:
    """The shipped conf/taskboard.conf and the sample data."""

    CONF = tbtest.sample_test_conf()
    CACHE_OFF = True
    SAMPLE_DATA = ("test", "teardown")

    def test_tb_600_01(self, httpd, db):
        # the observed real-client sync, verbatim, then a load that shows its result
        assert db.revision(self.board) == 1
        pkg = jloads(REAL_SYNC)
        t_ph = pkg["tasks"]["added"][0]["$PhantomId"]
        a_ph = pkg["assignments"]["added"][0]["$PhantomId"]
        of_task2 = ids_where(db, "SELECT id FROM assignments WHERE event = 2")
        assert of_task2, "the sample task 2 has assignments"
        old1 = board_state(db, self.board)["tasks"][1]

        res = do_sync(httpd, db, self.board, REAL_SYNC, request_id=17957455534381)
        body = res.body
        task = by_phantom(body, "tasks", t_ph)
        asg = by_phantom(body, "assignments", a_ph)
        sent_t = pkg["tasks"]["added"][0]
        assert task["name"] == sent_t["name"] and task["status"] == sent_t["status"]
        assert task["deadline"] == sent_t["deadline"][:10]       # the calendar day of the datetime
        assert asg["eventId"] == task["id"]                      # the phantom, translated
        assert asg["resourceId"] == 2 and asg["units"] == 100
        # task 1 is stored as sent, so it is not mentioned; task 2 was listed by the client
        assert [x for x in body["tasks"]["rows"] if "$PhantomId" not in x] == []
        assert "removed" not in body["tasks"]
        # the assignments of task 2 went with it (ON DELETE CASCADE), and the response says so
        assert removed_ids(body, "assignments") == of_task2
        assert res.diff == {
            "tasks": {"added": {task["id"]: res.after["tasks"][task["id"]]},
                      "removed": {2: res.before["tasks"][2]},
                      "changed": {1: {"name": (old1["name"], "Renamed")}}},
            "assignments": {"added": {asg["id"]: res.after["assignments"][asg["id"]]},
                            "removed": {i: res.before["assignments"][i] for i in of_task2},
                            "changed": {}}}

        # the client's next load
        r = httpd.get("/api/load?data=" + urllib.parse.quote(REAL_LOAD, safe=""))
        load = check_load(r, self.board, db, stores=["tasks", "resources", "assignments"],
                          request_id=17957455532200)
        assert load["revision"] == body["revision"]
        tasks = {x["id"]: x for x in load["tasks"]["rows"]}
        assert tasks[task["id"]]["name"] == "New task" and tasks[1]["name"] == "Renamed"
        assert 2 not in tasks
        asgs = {x["id"]: x for x in load["assignments"]["rows"]}
        assert asgs[asg["id"]]["eventId"] == task["id"]
        assert not set(of_task2) & set(asgs)
        assert all(x["eventId"] != 2 for x in asgs.values())

    def test_tb_600_02(self, httpd, db):
        # TaskBoard 5.6: add a card with an assignee and remove card 5 with its assignments,
        # which the client lists itself: they are not reported back as removed
        pkg = jloads(TB56_SYNC)
        listed = sorted(x["id"] for x in pkg["assignments"]["removed"])
        assert ids_where(db, "SELECT id FROM assignments WHERE event = 5") == listed
        res = do_sync(httpd, db, self.board, TB56_SYNC)
        assert "requestId" not in res.body
        task = by_phantom(res.body, "tasks", pkg["tasks"]["added"][0]["$PhantomId"])
        asg = by_phantom(res.body, "assignments", pkg["assignments"]["added"][0]["$PhantomId"])
        assert (task["name"], task["status"], task["prio"]) == ("Added", "todo", "high")
        assert task["parentId"] is None and task["startDate"] is None
        assert asg["eventId"] == task["id"] and asg["resourceId"] == 2
        # units was not sent: the column default
        assert asg["units"] == float(column_default(db, "assignments", "units"))
        assert "removed" not in res.body["tasks"] and "removed" not in res.body["assignments"]
        assert set(res.diff) == {"tasks", "assignments"}
        assert set(res.diff["tasks"]["removed"]) == {5}
        assert sorted(res.diff["assignments"]["removed"]) == listed
        assert res.diff["tasks"]["changed"] == {} and res.diff["assignments"]["changed"] == {}

    def test_tb_600_03(self, httpd, db):
        # TaskBoard 5.6 card drag: the status is written, nothing else, and the response has no
        # tasks section (the client's value is the stored one)
        assert db.scalar("SELECT status FROM tasks WHERE id = 3") != "done"
        old = board_state(db, self.board)["tasks"][3]
        res = do_sync(httpd, db, self.board, TB56_DRAG)
        assert set(res.body) == {"success", "type", "revision"}
        assert res.diff == {"tasks": {"added": {}, "removed": {},
                                      "changed": {3: {"status": (old["status"], "done")}}}}

    def test_tb_600_04(self, httpd, db):
        # every transport: JSON (with charset), text/plain, a form field data=, a chunked body
        def pkg(name, rid):
            return {"type": "sync", "requestId": rid, "tasks": {"updated": [{"id": 3,
                                                                             "name": name}]}}

        def chunks(data: bytes):
            for i in range(0, len(data), 7):
                yield data[i:i + 7]

        sends = [
            ("json-charset",
             lambda p: sync_post(httpd, p, ctype="application/json; charset=utf-8")),
            ("text-plain", lambda p: sync_post(httpd, p, ctype="text/plain")),
            ("text-plain-charset", lambda p: sync_post(httpd, p, ctype="text/plain;charset=UTF-8")),
            ("form", lambda p: httpd.post("/api/sync", data={"data": json.dumps(p)})),
            ("chunked", lambda p: httpd.post("/api/sync", data=chunks(json.dumps(p).encode()),
                                             headers={"Content-Type": "application/json"})),
        ]
        for i, (how, send) in enumerate(sends):
            name = f"sent as {how} ✓"
            rev = db.revision(self.board)
            r = send(pkg(name, 40 + i))
            if how == "chunked":
                assert r.request.headers.get("Transfer-Encoding") == "chunked"
            body = check_sync(r, self.board, db, request_id=40 + i)
            assert body["revision"] == rev + 1, how
            assert db.scalar("SELECT name FROM tasks WHERE id = 3") == name, how
            assert "tasks" not in body, how

    def test_tb_600_05(self, httpd, db):
        # added records: unmapped client fields are ignored, config defaults and column defaults
        # are applied, and each comes back as the full row the database holds
        pkg = {"type": "sync", "requestId": 5, "tasks": {"added": [
            {"$PhantomId": "_t_bare"},
            {"$PhantomId": "_t_full", "name": "Full", "durationUnit": "day", "cls": "",
             "exceptionDates": [], "allDay": False, "nosuchfield": {"x": 1}, "id": None,
             "status": "review", "prio": "low", "weight": 7, "deadline": "2024-12-31",
             "startDate": "2024-03-05T10:30:00Z", "eventColor": "blue", "readOnly": True,
             "meta": {"estimate": 2, "tags": ["a"]}, "description": "Größe 日本 😀"}]},
            "resources": {"added": [{"$PhantomId": "_r", "name": "Zoë", "image": None}]},
            "assignments": {"added": [{"$PhantomId": "_a", "eventId": "_t_bare",
                                       "resourceId": "_r"}]}}
        res = do_sync(httpd, db, self.board, pkg, request_id=5)
        bare = by_phantom(res.body, "tasks", "_t_bare")
        # config default= values
        assert bare["name"] == conf_option(self.CONF, "tasks", "name", "default")
        assert bare["status"] == conf_option(self.CONF, "tasks", "status", "default")
        # column defaults of fields the config gives no default
        assert bare["prio"] == column_default(db, "tasks", "prio")
        assert bare["weight"] == int(column_default(db, "tasks", "weight"))
        assert bare["readOnly"] is bool(int(column_default(db, "tasks", "read_only")))
        assert bare["description"] is None and bare["meta"] is None
        full = by_phantom(res.body, "tasks", "_t_full")
        sent = pkg["tasks"]["added"][1]
        for k in ("name", "status", "prio", "weight", "deadline", "startDate", "eventColor",
                  "readOnly", "meta", "description"):
            assert tbtest.strict_equal(full[k], sent[k]), f"{k}: {full[k]!r} != {sent[k]!r}"
        res_r = by_phantom(res.body, "resources", "_r")
        assert res_r["active"] is bool(int(column_default(db, "resources", "active")))
        asg = by_phantom(res.body, "assignments", "_a")
        assert (asg["eventId"], asg["resourceId"]) == (bare["id"], res_r["id"])
        assert asg["units"] == float(column_default(db, "assignments", "units"))
        assert set(res.diff) == {"tasks", "resources", "assignments"}
        assert all(not d["removed"] and not d["changed"] for d in res.diff.values())

    def test_tb_600_06(self, httpd, db):
        # phantom references in any key order: the assignments section comes first, the
        # resources section last; the referenced records are inserted first
        text = ('{"assignments":{"added":[{"eventId":"_t1","resourceId":"_r1","$PhantomId":"_a1"},'
                '{"eventId":1,"resourceId":"_r1","$PhantomId":"_a2"},'
                '{"eventId":"_t1","resourceId":3,"$PhantomId":"_a3"}]},'
                '"revision":1,"type":"sync",'
                '"tasks":{"added":[{"$PhantomId":"_t1","name":"Referenced"}]},"requestId":"six",'
                '"resources":{"added":[{"$PhantomId":"_r1","name":"Late section"}]}}')
        res = do_sync(httpd, db, self.board, text, request_id="six")
        t = by_phantom(res.body, "tasks", "_t1")["id"]
        r = by_phantom(res.body, "resources", "_r1")["id"]
        got = {ph: (by_phantom(res.body, "assignments", ph)["eventId"],
                    by_phantom(res.body, "assignments", ph)["resourceId"])
               for ph in ("_a1", "_a2", "_a3")}
        assert got == {"_a1": (t, r), "_a2": (1, r), "_a3": (t, 3)}
        rows = db.query("SELECT event, resource FROM assignments WHERE id IN (%s, %s, %s)",
                        [by_phantom(res.body, "assignments", ph)["id"]
                         for ph in ("_a1", "_a2", "_a3")])
        assert sorted(rows) == sorted(got.values())

    def test_tb_600_07(self, httpd, db):
        # a tree: children listed before their new parent, with parentId as the parent's
        # phantom id, with $PhantomParentId, with both, a grandchild first of all, and a child of
        # an existing task
        added = [
            {"$PhantomId": "_gc", "name": "grandchild", "parentId": "_c1",
             "$PhantomParentId": "_c1"},
            {"$PhantomId": "_c1", "name": "child both", "parentId": "_p", "$PhantomParentId": "_p"},
            {"$PhantomId": "_c2", "name": "child phantom-parent only", "$PhantomParentId": "_p"},
            {"$PhantomId": "_c3", "name": "child parentId only", "parentId": "_p"},
            {"$PhantomId": "_c4", "name": "child of task 3", "parentId": 3},
            {"$PhantomId": "_p", "name": "new parent", "parentId": None},
        ]
        res = do_sync(httpd, db, self.board, {"type": "sync", "requestId": 7, "revision": 1,
                                              "tasks": {"added": added}}, request_id=7)
        ids = {a["$PhantomId"]: by_phantom(res.body, "tasks", a["$PhantomId"])["id"]
               for a in added}
        want = {"_gc": ids["_c1"], "_c1": ids["_p"], "_c2": ids["_p"], "_c3": ids["_p"], "_c4": 3,
                "_p": None}
        for ph, parent in want.items():
            assert by_phantom(res.body, "tasks", ph)["parentId"] == parent, ph
            assert db.scalar("SELECT parent_id FROM tasks WHERE id = %s", (ids[ph],)) == parent
        # parents were inserted before their children
        assert ids["_p"] < ids["_c1"] < ids["_gc"]
        assert set(res.diff) == {"tasks"} and len(res.diff["tasks"]["added"]) == len(added)

    def test_tb_600_08(self, httpd, db):
        # the phantom chain of the issue: a new resource, a new task, an assignment between the
        # two and a child task of the new task, all in one sync, sections in reverse order
        text = json.dumps({
            "type": "sync", "requestId": 8, "revision": 1,
            "assignments": {"added": [{"eventId": "_task", "resourceId": "_res", "units": 50,
                                       "$PhantomId": "_asg"}]},
            "tasks": {"added": [
                {"name": "Child", "parentId": "_task", "$PhantomParentId": "_task",
                 "$PhantomId": "_child"},
                {"name": "Parent", "status": "doing", "$PhantomId": "_task"}]},
            "resources": {"added": [{"name": "Newcomer", "email": "new@example.com",
                                     "$PhantomId": "_res"}]}})
        res = do_sync(httpd, db, self.board, text, request_id=8)
        res_id = by_phantom(res.body, "resources", "_res")["id"]
        task = by_phantom(res.body, "tasks", "_task")
        child = by_phantom(res.body, "tasks", "_child")
        asg = by_phantom(res.body, "assignments", "_asg")
        assert child["parentId"] == task["id"] and task["parentId"] is None
        assert (asg["eventId"], asg["resourceId"], asg["units"]) == (task["id"], res_id, 50)
        assert db.query("SELECT event, resource FROM assignments WHERE id = %s",
                        (asg["id"],)) == [(task["id"], res_id)]
        assert db.scalar("SELECT parent_id FROM tasks WHERE id = %s", (child["id"],)) == task["id"]
        assert {s: (len(d["added"]), len(d["removed"]), len(d["changed"]))
                for s, d in res.diff.items()} == {"tasks": (2, 0, 0), "resources": (1, 0, 0),
                                                  "assignments": (1, 0, 0)}

    def test_tb_600_09(self, httpd, db):
        # updated: only the sent, mapped fields are written; unmapped ones are ignored; values
        # stored as sent are not mentioned in the response
        created = db.query("SELECT id, created_at FROM tasks ORDER BY id")
        before = board_state(db, self.board)["tasks"]
        upd = [{"id": 1, "name": "Only the name", "durationUnit": "day", "cls": "x",
                "nosuch": [1, 2]},
               {"id": 4, "prio": None, "weight": 7, "deadline": "2024-12-31", "readOnly": False,
                "meta": {"a": [1, {"b": None}]}, "eventColor": "#ff0000"},
               {"id": 5, "startDate": "2024-03-05T10:30:00Z", "description": None}]
        res = do_sync(httpd, db, self.board, {"type": "sync", "requestId": 9,
                                              "tasks": {"updated": upd}})
        assert "tasks" not in res.body
        want = {}
        for u in upd:
            want[u["id"]] = {k: (before[u["id"]][k], v) for k, v in u.items()
                             if k in before[u["id"]] and k != "id"
                             and not tbtest.strict_equal(before[u["id"]][k], v)}
        assert res.diff == {"tasks": {"added": {}, "removed": {}, "changed": want}}
        assert db.query("SELECT id, created_at FROM tasks ORDER BY id") == created

    def test_tb_600_10(self, httpd, db):
        # updated records are mentioned only where the stored value differs from the sent one:
        # a phantom reference becomes the real id, a datetime loses its milliseconds
        pkg = {"type": "sync", "requestId": 10,
               "assignments": {"updated": [{"id": 1, "eventId": "_new"},
                                           {"id": 2, "units": 75}]},
               "tasks": {"added": [{"$PhantomId": "_new", "name": "Target"}],
                         "updated": [{"id": 2, "parentId": "_new"},
                                     {"id": 4, "startDate": "2024-03-05T10:30:00.123+01:00"},
                                     {"id": 5, "name": "Plain rename"}]}}
        res = do_sync(httpd, db, self.board, pkg, request_id=10)
        new_id = by_phantom(res.body, "tasks", "_new")["id"]
        t_rows = {x["id"]: x for x in res.body["tasks"]["rows"] if "$PhantomId" not in x}
        stored = db.scalar("SELECT start_date FROM tasks WHERE id = 4")
        sent = datetime.datetime.fromisoformat("2024-03-05T10:30:00.123+01:00")
        assert abs(stored - sent.astimezone(datetime.timezone.utc).replace(tzinfo=None)) \
            < datetime.timedelta(seconds=1)
        assert t_rows == {2: {"id": 2, "parentId": new_id},
                          4: {"id": 4, "startDate": stored.strftime("%Y-%m-%dT%H:%M:%SZ")}}
        assert res.body["assignments"] == {"rows": [{"id": 1, "eventId": new_id}]}
        assert db.scalar("SELECT event FROM assignments WHERE id = 1") == new_id
        assert db.scalar("SELECT parent_id FROM tasks WHERE id = 2") == new_id

    def test_tb_600_11(self, httpd, db):
        # cascade reporting: a removed task's assignments that the client did not list are
        # reported as removed; one the client listed itself is not reported again; a removed
        # resource's assignments likewise
        of1 = ids_where(db, "SELECT id FROM assignments WHERE event = 1")
        assert len(of1) >= 1
        res = do_sync(httpd, db, self.board, {"type": "sync", "requestId": 11,
                                              "tasks": {"removed": [{"id": 1}]}})
        assert set(res.body) == {"success", "type", "requestId", "revision", "assignments"}
        assert removed_ids(res.body, "assignments") == of1
        assert not db.query("SELECT id FROM assignments WHERE event = 1")

        of4 = ids_where(db, "SELECT id FROM assignments WHERE event = 4")
        assert len(of4) >= 2
        res = do_sync(httpd, db, self.board, {"type": "sync", "requestId": 12,
                                              "tasks": {"removed": [{"id": 4}]},
                                              "assignments": {"removed": [{"id": of4[0]}]}})
        assert removed_ids(res.body, "assignments") == of4[1:]
        assert "tasks" not in res.body
        assert sorted(res.diff["assignments"]["removed"]) == of4

        # the same for a removed resource's assignments
        of_r = ids_where(db, "SELECT id FROM assignments WHERE resource = 3")
        assert of_r
        res = do_sync(httpd, db, self.board, {"type": "sync", "requestId": 13,
                                              "resources": {"removed": [{"id": 3}]}})
        assert removed_ids(res.body, "assignments") == of_r and "resources" not in res.body
        assert not db.query("SELECT id FROM assignments WHERE resource = 3")

    def test_tb_600_12(self, httpd, db):
        # cascades through a tree: removing a task removes its subtasks and their subtasks
        # (ON DELETE CASCADE) and all their assignments; each is reported in its store unless
        # the client listed it
        db.execute("UPDATE tasks SET parent_id = 3 WHERE id = 4")
        db.execute("UPDATE tasks SET parent_id = 4 WHERE id = 5")
        db.execute("UPDATE tasks SET parent_id = 3 WHERE id = 2")
        sub = [2, 4, 5]
        asg = ids_where(db, "SELECT id FROM assignments WHERE event IN (2, 3, 4, 5)")
        listed = [ids_where(db, "SELECT id FROM assignments WHERE event = 5")[0]]
        res = do_sync(httpd, db, self.board, {"type": "sync", "requestId": 12,
                                              "tasks": {"removed": [{"id": 3}, {"id": 2}]},
                                              "assignments": {"removed": [{"id": listed[0]}]}})
        assert removed_ids(res.body, "tasks") == [4, 5]
        assert removed_ids(res.body, "assignments") == sorted(set(asg) - set(listed))
        assert ids_where(db, "SELECT id FROM tasks") == [1]
        assert sorted(res.diff["assignments"]["removed"]) == asg
        assert sorted(res.diff["tasks"]["removed"]) == sorted([3] + sub)
        assert not res.diff["tasks"]["changed"]

    def test_tb_600_22(self, httpd, db):
        # removing a parent and updating its child in one sync: the removal wins; the child is
        # not "deleted by someone else" (409) but reported as removed along with its parent
        db.execute("UPDATE tasks SET parent_id = 3 WHERE id = 4")
        res = do_sync(httpd, db, self.board, {"type": "sync", "requestId": 22,
                                              "tasks": {"updated": [{"id": 4, "name": "x"}],
                                                        "removed": [{"id": 3}]}})
        assert removed_ids(res.body, "tasks") == [4]
        assert ids_where(db, "SELECT id FROM tasks WHERE id IN (3, 4)") == []

    def test_tb_600_13(self, httpd, db):
        # removing ids that are already gone is success, changes nothing and does not raise the
        # revision; removing the same task twice: the second sync reports nothing
        with Unchanged(db, tbtest.ALL_BUT_ANSWERS):
            res = do_sync(httpd, db, self.board, {
                "type": "sync", "requestId": 13, "revision": 1,
                "tasks": {"removed": [{"id": 9999}, {"id": 0}, {"id": -1}]},
                "resources": {"removed": [{"id": 9999}]},
                "assignments": {"removed": [{"id": 9999}]},
                "columns": {"removed": [{"id": "nosuch"}]}}, request_id=13, raises=False)
        assert set(res.body) == {"success", "type", "requestId", "revision"}
        pkg = {"type": "sync", "requestId": 14, "tasks": {"removed": [{"id": 5}]}}
        first = do_sync(httpd, db, self.board, pkg, raises=True)
        assert removed_ids(first.body, "assignments")
        # (the same body under the same requestId would be a resend, answered with the first
        # answer: see test_650; this is the client removing it again in a new sync)
        pkg["requestId"] = 15
        with Unchanged(db, tbtest.ALL_BUT_ANSWERS):
            again = do_sync(httpd, db, self.board, pkg, request_id=15, raises=False)
        assert set(again.body) == {"success", "type", "requestId", "revision"}

    def test_tb_600_14(self, httpd, db):
        # updating a record that someone else deleted: 409 saying so, and nothing of the batch
        # is applied
        gone = db.scalar("SELECT MAX(id) FROM tasks") + 100
        with Unchanged(db):
            r = sync_post(httpd, {"type": "sync", "requestId": 14,
                                  "tasks": {"added": [{"$PhantomId": "_x", "name": "x"}],
                                            "updated": [{"id": 1, "name": "first"},
                                                        {"id": gone, "name": "gone"}]},
                                  "assignments": {"removed": [{"id": 1}]}})
            body = check_sync_error(r, 409, request_id=14)
        assert "deleted by someone else" in body["message"], body["message"]

    def test_tb_600_15(self, httpd, db):
        # rollback: a batch whose last record breaks the UNIQUE(event, resource) key of an
        # existing assignment leaves every table exactly as it was
        event, resource = db.query("SELECT event, resource FROM assignments ORDER BY id LIMIT 1")[0]
        pkg = {"type": "sync", "requestId": 15, "revision": 1,
               "tasks": {"added": [{"$PhantomId": "_t", "name": "rolled back"}],
                         "updated": [{"id": 1, "name": "rolled back"}],
                         "removed": [{"id": 2}]},
               "resources": {"added": [{"$PhantomId": "_r", "name": "rolled back"}],
                             "updated": [{"id": 1, "role": "rolled back"}]},
               "columns": {"updated": [{"id": "todo", "text": "rolled back"}]},
               "assignments": {"added": [{"$PhantomId": "_a1", "eventId": "_t", "resourceId": "_r"},
                                         {"$PhantomId": "_a2", "eventId": event,
                                          "resourceId": resource}]}}
        with Unchanged(db):
            check_sync_error(sync_post(httpd, pkg), 409, request_id=15)
        # the same batch without the duplicate goes through
        pkg["assignments"]["added"].pop()
        do_sync(httpd, db, self.board, pkg, request_id=15)

    def test_tb_600_16(self, httpd, db):
        # rollback: the last record refers to a task id that does not exist (foreign key): 409,
        # and every table is as before; the same for an added subtask of a missing parent
        missing = db.scalar("SELECT MAX(id) FROM tasks") + 1000
        for last in ({"assignments": {"added": [{"$PhantomId": "_a1", "eventId": "_t",
                                                 "resourceId": 1},
                                                {"$PhantomId": "_a2", "eventId": missing,
                                                 "resourceId": 2}]}},
                     {"tasks": {"added": [{"$PhantomId": "_t", "name": "rolled back"},
                                          {"$PhantomId": "_orphan", "parentId": missing}],
                                "updated": [{"id": 1, "name": "rolled back"}]}}):
            pkg = {"type": "sync", "requestId": 16,
                   "tasks": {"added": [{"$PhantomId": "_t", "name": "rolled back"}],
                             "updated": [{"id": 1, "name": "rolled back"}]},
                   "resources": {"removed": [{"id": 7}]}}
            pkg.update(last)
            with Unchanged(db):
                check_sync_error(sync_post(httpd, pkg), 409, request_id=16)

    def test_tb_600_17(self, httpd, db):
        # revision: a stale one is refused with 409 and nothing is applied; the current one and
        # a sync without revision are applied and raise it by one (a negative one is no
        # revision at all: 400, test_820)
        db.execute("UPDATE options SET value = 7 WHERE name = 'revision'")
        change = {"tasks": {"updated": [{"id": 3, "name": "by revision"}]},
                  "assignments": {"removed": [{"id": 1}]}}
        for stale in (6, 1, 0):
            with Unchanged(db):
                r = sync_post(httpd, dict(type="sync", requestId=17, revision=stale, **change))
                body = check_sync_error(r, 409, request_id=17)
            assert "someone else" in body["message"], body["message"]
        res = do_sync(httpd, db, self.board, dict(type="sync", requestId=18, revision=7, **change),
                      request_id=18)
        assert res.body["revision"] == 8 == db.revision(self.board)
        res = do_sync(httpd, db, self.board, {"type": "sync", "requestId": 19,
                                              "tasks": {"updated": [{"id": 3, "name": "no rev"}]}})
        assert res.body["revision"] == 9

    def test_tb_600_18(self, httpd, db):
        # every sync that changes data raises the revision by exactly one, and the responses
        # and the next load carry it; an empty sync (the client's poll) returns the current
        # revision without raising it (and, when the client's is old, what changed since:
        # test_660)
        rev0 = db.revision(self.board)
        steps = [{"tasks": {"updated": [{"id": 1, "weight": 1}]}},
                 {"resources": {"added": [{"$PhantomId": "_r", "name": "R"}]}},
                 {"columns": {"added": [{"$PhantomId": "_c", "id": "later", "text": "Later"}]}},
                 {"swimlanes": {"updated": [{"id": "low", "text": "Lowest"}]}},
                 {"assignments": {"removed": [{"id": 3}]}}]
        for i, step in enumerate(steps):
            res = do_sync(httpd, db, self.board, dict(type="sync", requestId=i, revision=rev0 + i,
                                                      **step), request_id=i)
            assert res.body["revision"] == rev0 + i + 1
        final = rev0 + len(steps)
        for poll in ({"type": "sync", "requestId": 99, "revision": final},
                     {"type": "sync", "requestId": 99},
                     {"type": "sync", "requestId": 99, "revision": final, "tasks": {},
                      "resources": {"added": [], "updated": [], "removed": []}}):
            with Unchanged(db):
                res = do_sync(httpd, db, self.board, poll, request_id=99, raises=False)
            assert set(res.body) == {"success", "type", "requestId", "revision"}
            assert res.body["revision"] == final
        load = check_load(httpd.get("/api/load?data=" + urllib.parse.quote(REAL_LOAD, safe="")),
                          self.board, db, stores=["tasks", "resources", "assignments"])
        assert load["revision"] == final

    def test_tb_600_19(self, httpd, db):
        # dates and datetimes as a client sends them are stored as days and UTC datetimes
        days = {1: "2024-03-05", 2: "2024-03-05T10:30:00Z", 3: "2024-02-29T00:00:00+01:00",
                4: "2024-12-31T23:59:59.999-05:00", 5: "2025-01-01T00:00:00"}
        times = {1: "2024-03-05T10:30:00Z", 2: "2024-03-05T10:30:00+01:00",
                 3: "2024-03-05T10:30:00+0100", 4: "2024-03-05T10:30:00",
                 5: "2024-03-05T00:15:00-05:30"}
        upd = [{"id": i, "deadline": days[i], "startDate": times[i]} for i in days]
        do_sync(httpd, db, self.board, {"type": "sync", "requestId": 19,
                                        "tasks": {"updated": upd}})
        for i in days:
            d, t = db.query("SELECT deadline, start_date FROM tasks WHERE id = %s", (i,))[0]
            assert d.isoformat() == days[i][:10], (i, d)     # the day as written, no conversion
            utc = datetime.datetime.fromisoformat(times[i])
            if utc.tzinfo is not None:
                utc = utc.astimezone(datetime.timezone.utc).replace(tzinfo=None)
            assert t == utc, (i, times[i], t)
        # the brief's example
        assert db.scalar("SELECT start_date FROM tasks WHERE id = 2") == \
            datetime.datetime(2024, 3, 5, 9, 30)

    def test_tb_600_20(self, httpd, db):
        # string-keyed stores: columns added with the client's ids, updated and removed; a task
        # whose status refers to them is unaffected by the config (no references=)
        res = do_sync(httpd, db, self.board, {
            "type": "sync", "requestId": 20,
            "columns": {"added": [{"$PhantomId": "_c", "id": "blocked", "text": "Blocked",
                                   "color": "grey", "weight": 9}],
                        "updated": [{"id": "todo", "collapsed": True}],
                        "removed": [{"id": "review"}]},
            "swimlanes": {"removed": [{"id": "low"}]}}, request_id=20)
        col = by_phantom(res.body, "columns", "_c")
        assert col["id"] == "blocked" and col["collapsed"] is False
        assert "swimlanes" not in res.body
        assert db.query("SELECT id, text FROM columns WHERE id = 'blocked'") == \
            [("blocked", "Blocked")]
        assert db.scalar("SELECT collapsed FROM columns WHERE id = 'todo'") == 1
        assert set(res.diff["columns"]["removed"]) == {"review"}
        assert set(res.diff["swimlanes"]["removed"]) == {"low"}

    def test_tb_600_21(self, env, httpd, db):
        # the database stops: a sync gets 503 with Retry-After; once it is back, the same sync
        # goes through.  (That a sync cut off in the middle leaves nothing half-written is
        # test_900's: MariaDB killed, connections and statements killed, under load.)
        pkg = {"type": "sync", "requestId": 21, "revision": 1,
               "tasks": {"added": [{"$PhantomId": "_t", "name": "after the outage"}],
                         "updated": [{"id": 1, "name": "after the outage"}]}}
        httpd.expect_log(r"\[dbd:", r"TB\d{5}")
        env.db_stop()
        try:
            r = sync_post(httpd, pkg)
            check_sync_error(r, 503, request_id=21)
            assert r.headers.get("Retry-After", "").strip(), tbtest.describe(r)
        finally:
            env.db_start()

        def through():
            r = sync_post(httpd, pkg)
            assert r.status_code in (200, 503), tbtest.describe(r)
            return r if r.status_code == 200 else None
        r = tbtest.poll(through, 15, interval=0.2, what="a sync after the outage")
        body = check_sync(r, self.board, db, request_id=21)
        assert body["revision"] == 2
        assert db.scalar("SELECT COUNT(*) FROM tasks WHERE name = 'after the outage'") == 2


class TestSyncFull:
    """boards.board_conf(): every column mapped, createdAt readonly, prio without maxlength."""

    CONF = boards.board_conf()
    CACHE_OFF = True
    SAMPLE_DATA = ("test", "teardown")

    def test_tb_600_30(self, httpd, db):
        # readonly fields are never written, on add or update, but come back with the row
        created = db.scalar("SELECT created_at FROM tasks WHERE id = 1")
        claim = "2001-02-03T04:05:06Z"
        res = do_sync(httpd, db, self.board, {
            "type": "sync", "requestId": 30,
            "tasks": {"added": [{"$PhantomId": "_t", "name": "ro", "createdAt": claim}],
                      "updated": [{"id": 1, "createdAt": claim, "name": "ro too"}]}},
            request_id=30)
        t = by_phantom(res.body, "tasks", "_t")
        assert t["createdAt"] != claim
        assert t["createdAt"] == db.scalar("SELECT created_at FROM tasks WHERE id = %s",
                                           (t["id"],)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert db.scalar("SELECT created_at FROM tasks WHERE id = 1") == created
        assert set(res.diff["tasks"]["changed"]) == {1}
        assert set(res.diff["tasks"]["changed"][1]) == {"name"}

    def test_tb_600_31(self, httpd, db):
        # a numeric field and a JSON field round-trip with their types; nested references
        res = do_sync(httpd, db, self.board, {
            "type": "sync", "requestId": 31,
            "assignments": {"updated": [{"id": 8, "units": 12.5}],
                            "added": [{"$PhantomId": "_a", "eventId": 5, "resourceId": 1,
                                       "units": 0.25}]},
            "tasks": {"updated": [{"id": 2, "meta": [1, "two", False, None, {"x": 1.5}]}]}},
            request_id=31)
        assert by_phantom(res.body, "assignments", "_a")["units"] == 0.25
        assert str(db.scalar("SELECT units FROM assignments WHERE id = 8")) == "12.50"
        assert jloads(db.scalar("SELECT meta FROM tasks WHERE id = 2")) == \
            [1, "two", False, None, {"x": 1.5}]


class TestSyncPhantomNames:
    """TaskBoardPhantomIdField and TaskBoardPhantomParentIdField rename the client's fields."""

    CONF = boards.board_conf(extra="    TaskBoardPhantomIdField _tempId\n"
                                   "    TaskBoardPhantomParentIdField _tempParent\n")
    CACHE_OFF = True
    SAMPLE_DATA = ("test", "teardown")

    def test_tb_600_40(self, httpd, db):
        # the renamed fields carry the phantom ids, and the response uses the same name
        pkg = {"type": "sync", "requestId": 40,
               "assignments": {"added": [{"_tempId": "a", "eventId": "p", "resourceId": 1}]},
               "tasks": {"added": [{"_tempId": "c", "name": "child", "_tempParent": "p"},
                                   {"_tempId": "p", "name": "parent"}]}}
        res = do_sync(httpd, db, self.board, pkg, phantom_field="_tempId", request_id=40)
        p = by_phantom(res.body, "tasks", "p", field="_tempId")
        c = by_phantom(res.body, "tasks", "c", field="_tempId")
        a = by_phantom(res.body, "assignments", "a", field="_tempId")
        assert c["parentId"] == p["id"] and a["eventId"] == p["id"]
        assert "$PhantomId" not in res.body["tasks"]["rows"][0]

    def test_tb_600_41(self, httpd, db):
        # $PhantomId is now just an unmapped field: a record with only that has no phantom id
        with Unchanged(db):
            r = sync_post(httpd, {"type": "sync", "requestId": 41,
                                  "tasks": {"added": [{"$PhantomId": "_x", "name": "x"}]}})
            body = check_sync_error(r, 400, request_id=41)
        assert "_tempId" in body["message"], body["message"]


class TestSyncPolicies:
    """TaskBoardConflictPolicy off and TaskBoardIgnoreStore."""

    CONF = boards.board_conf(extra="    TaskBoardConflictPolicy off\n"
                                   "    TaskBoardIgnoreStore project calendars\n")
    CACHE_OFF = True
    SAMPLE_DATA = ("test", "teardown")

    def test_tb_600_50(self, httpd, db):
        # with the conflict check off, a sync based on an old revision is applied
        db.execute("UPDATE options SET value = 40 WHERE name = 'revision'")
        res = do_sync(httpd, db, self.board, {"type": "sync", "requestId": 50, "revision": 3,
                                              "tasks": {"updated": [{"id": 2, "name": "late"}]}},
                      request_id=50)
        assert res.body["revision"] == 41
        assert db.scalar("SELECT name FROM tasks WHERE id = 2") == "late"

    def test_tb_600_51(self, httpd, db):
        # the sections of ignored stores are dropped and the rest is saved; a store that is
        # neither served nor ignored still fails the whole sync
        res = do_sync(httpd, db, self.board, {
            "type": "sync", "requestId": 51,
            "project": {"updated": [{"id": 1, "calendar": "general"}]},
            "calendars": {"added": [{"$PhantomId": "_cal", "name": "Night shift"}],
                          "removed": [{"id": "general"}]},
            "tasks": {"updated": [{"id": 2, "name": "saved"}]}}, request_id=51)
        assert set(res.body) == {"success", "type", "requestId", "revision"}
        assert db.scalar("SELECT name FROM tasks WHERE id = 2") == "saved"
        with Unchanged(db):
            r = sync_post(httpd, {"type": "sync", "requestId": 52,
                                  "calendars": {"removed": [{"id": "general"}]},
                                  "dependencies": {"added": [{"$PhantomId": "_d", "from": 1,
                                                              "to": 2}]},
                                  "tasks": {"updated": [{"id": 2, "name": "not saved"}]}})
            body = check_sync_error(r, 400, request_id=52)
        assert "dependencies" in body["message"], body["message"]
