"""The Gantt sample users copy (issue 16, point 7): conf/gantt.conf on sql/gantt.sql, as shipped.

A load answers what the Gantt 5.6.2 asks for (its captured load package): the tasks as a tree
(nested children in parentIndex order), calendars with their intervals nested (with ids), the
project as a plain object, dependencies and assignments under the names the client loads.  The
Gantt's captured syncs of ../shared/PROTOCOL.md section 5 are sent verbatim (the elided ones
completed with the fields that matter) and every answer is checked against the tables.  Where a
capture names records the sample does not hold (task 1000, interval 77, ...: ids of the recording
backend), the test adds them first.  A date with +01:00 is stored in UTC and loads as the same
instant.
"""

import datetime
import json
import os
import urllib.parse

import tbtest
from tbtest import describe, json_body, sync_post

CONF_FILE = os.path.join(tbtest.REPO, "conf", "gantt.conf")
SQL_FILE = os.path.join(tbtest.REPO, "sql", "gantt.sql")

# the Gantt's load package (PROTOCOL.md section 5)
LOAD = ('{"type":"load","requestId":17961579200001,"stores":["calendars","tasks","dependencies",'
        '"resources","assignments","timeRanges"]}')

# a child under parent 1, a dependency from it to task 3 and an assignment, in one sync
ADD_CHILD = ('{"type":"sync","requestId":17961579239831,"tasks":{"added":[{"parentIndex":2,'
             '"startDate":"2024-01-08T00:00:00Z","endDate":"2024-01-09T00:00:00Z","duration":1,'
             '"durationUnit":"day","cls":"","name":"New child","calendar":null,"direction":null,'
             '"manuallyScheduled":false,"unscheduled":false,"ignoreResourceCalendar":null,'
             '"constraintType":null,"constraintDate":null,"percentDone":0,"effort":24,'
             '"effortUnit":"hour","inactive":null,"segments":null,"effortDriven":false,'
             '"schedulingMode":"Normal","delayFromParent":null,'
             '"projectConstraintResolution":"honor","baselines":[],"parentId":1,'
             '"$PhantomId":"_g:T"}],"updated":[{"effort":144,"id":1}]},"dependencies":{"added":'
             '[{"from":"_g:T","to":3,"type":2,"cls":"","fromSide":null,"toSide":null,"lag":0,'
             '"lagUnit":"day","fromEvent":"_g:T","toEvent":3,"active":true,"fromTask":"_g:T",'
             '"toTask":3,"$PhantomId":"_g:D"}]},"assignments":{"added":[{"event":"_g:T",'
             '"resource":1,"units":100,"resourceId":1,"eventId":"_g:T","$PhantomId":"_g:A"}]}}')

# a duration change: every task the engine moved
DURATION = ('{"type":"sync","requestId":17961579239832,"tasks":{"updated":[{"endDate":'
            '"2024-01-12T00:00:00Z","duration":4,"id":2},{"endDate":"2024-01-17T00:00:00Z",'
            '"duration":7,"id":1},{"startDate":"2024-01-12T00:00:00Z","endDate":'
            '"2024-01-17T00:00:00Z","id":3}]}}')

# a new parent with a new child (the capture's "…" filled in with the fields the client sends)
NEW_PARENT = ('{"type":"sync","requestId":17961579239833,"tasks":{"added":[{"parentIndex":1,'
              '"expanded":true,"name":"New parent","parentId":null,"$PhantomId":"_g:P",'
              '"startDate":"2024-01-08T00:00:00Z","endDate":"2024-01-09T00:00:00Z","duration":1,'
              '"baselines":[]},{"parentIndex":0,"name":"Nested child","parentId":"_g:P",'
              '"$PhantomId":"_g:C","$PhantomParentId":"_g:P","startDate":"2024-01-08T00:00:00Z",'
              '"endDate":"2024-01-09T00:00:00Z","duration":1,"baselines":[]}]}}')

# remove task 3 (sibling 1000 renumbered, the dependencies removed by the client)
REMOVE_3 = ('{"type":"sync","requestId":17961579239834,"tasks":{"updated":[{"parentIndex":1,'
            '"id":1000},{"endDate":"2024-01-13T00:00:00Z","duration":4,"effort":72,"id":1}],'
            '"removed":[{"id":3}]},"dependencies":{"removed":[{"id":1},{"id":1001}]}}')

# indent task 1038 under task 1 (the capture's "…" is the parent's start)
INDENT = ('{"type":"sync","requestId":17961579239835,"tasks":{"updated":[{"parentId":1,'
          '"parentIndex":2,"id":1038},{"startDate":"2024-01-08T08:00:00Z","duration":7,'
          '"effort":168,"id":1}]}}')

# calendar intervals: one added inside the calendar's record, one loaded with id 77 changed
ADD_INTERVAL = ('{"type":"sync","requestId":17961579262454,"calendars":{"updated":[{"version":3,'
                '"intervals":{"added":[{"name":"Holiday","startDate":"2024-01-09T00:00:00Z",'
                '"endDate":"2024-01-10T00:00:00Z","isWorking":false,"$PhantomId":"_g:I"}]},'
                '"id":"general"}]},"tasks":{"updated":[{"endDate":"2024-01-18T00:00:00Z",'
                '"id":1}]}}')
UPDATE_77 = ('{"type":"sync","calendars":{"updated":[{"version":2,"intervals":{"updated":'
             '[{"recurrentStartDate":"on Fri at 0:00","id":77}]},"id":"general"}]}}')


def dt(text):
    return datetime.datetime.fromisoformat(text)


def utc(v):
    return None if v is None else v.strftime("%Y-%m-%dT%H:%M:%SZ")


def load(httpd):
    resp = httpd.get("/gantt/api/load?data=" + urllib.parse.quote(LOAD))
    assert resp.status_code == 200, describe(resp)
    body = json_body(resp)
    assert body["success"] is True, body
    return body


def sync(httpd, body):
    resp = sync_post(httpd, body, path="/gantt/api/sync")
    assert resp.status_code == 200, describe(resp)
    answer = json_body(resp)
    assert answer["success"] is True, answer
    return answer


def task_rows(db):
    return {r[0]: {"parentId": r[1], "parentIndex": r[2], "name": r[3], "startDate": utc(r[4]),
                   "endDate": utc(r[5]), "duration": r[6], "expanded": bool(r[7])}
            for r in db.query("SELECT id, parent_id, parent_index, name, start_date, end_date, "
                              "duration, expanded FROM g_tasks")}


def flatten(rows, parent=None, out=None):
    """The loaded tree as {id: (parent id by nesting, place among the siblings, record)}."""
    out = {} if out is None else out
    for place, rec in enumerate(rows):
        assert rec["id"] not in out, f"task {rec['id']} loaded twice"
        out[rec["id"]] = (parent, place, rec)
        if "children" in rec:
            assert rec["children"], f"task {rec['id']}: an empty children list"
            flatten(rec["children"], rec["id"], out)
    return out


def phantom_map(answer, store):
    return {r["$PhantomId"]: r["id"] for r in answer.get(store, {}).get("rows", [])
            if "$PhantomId" in r}


class TestGanttSample:
    CONF = tbtest.sample_test_conf(CONF_FILE)
    CACHE_OFF = True                    # the sample is loaded again for every test

    @classmethod
    def cleanup_class(cls, env):
        env.db_load(SQL_FILE)

    def reset(self, env):
        env.db_load(SQL_FILE)

    def assert_tree_is_db(self, httpd, db):
        """The loaded tree holds every task once, nested under its parent, siblings in the order
        of parent_index, with the database's values."""
        tree = flatten(load(httpd)["tasks"]["rows"])
        rows = task_rows(db)
        assert set(tree) == set(rows)
        for tid, (parent, place, rec) in tree.items():
            row = rows[tid]
            assert parent == row["parentId"], (tid, parent, row)
            siblings = sorted((r["parentIndex"], i) for i, r in rows.items()
                              if r["parentId"] == row["parentId"])
            assert siblings[place][1] == tid, (tid, place, siblings)
            for key in ("parentId", "parentIndex", "name", "startDate", "endDate", "expanded"):
                assert rec[key] == row[key], (tid, key, rec, row)
        return tree

    def test_tb_794_01(self, env, httpd, db):
        # the load the Gantt asks for: a tree, calendars with their intervals, the project
        self.reset(env)
        body = load(httpd)
        assert "intervals" not in body and "timeRanges" not in body
        tree = self.assert_tree_is_db(httpd, db)
        roots = [t for t, (p, _, _) in tree.items() if p is None]
        assert sorted(roots) == [1, 4, 7]
        assert [c["id"] for c in body["tasks"]["rows"][0]["children"]] == [2, 3]
        assert "children" not in tree[2][2]                         # a leaf
        assert tree[2][2]["baselines"] == json.loads(db.scalar(
            "SELECT baselines FROM g_tasks WHERE id = 2"))
        assert tree[3][2]["baselines"] is None
        assert body["tasks"]["total"] == db.scalar("SELECT COUNT(*) FROM g_tasks")
        # the calendar's intervals inside its row, with their ids
        cals = body["calendars"]["rows"]
        assert [c["id"] for c in cals] == ["general"]
        want = db.query("SELECT id, recurrent_start, recurrent_end, is_working "
                        "FROM g_calendar_intervals WHERE calendar_id = 'general' ORDER BY id")
        assert [(i["id"], i["recurrentStartDate"], i["recurrentEndDate"], i["isWorking"])
                for i in cals[0]["intervals"]] == [(r[0], r[1], r[2], bool(r[3])) for r in want]
        # the project: a plain object
        cal, start, hpd = db.query("SELECT calendar, start_date, hours_per_day FROM g_project")[0]
        assert body["project"]["calendar"] == cal == "general"
        assert body["project"]["startDate"] == utc(start)
        assert body["project"]["hoursPerDay"] == hpd
        # dependencies and assignments under the configured names
        deps = {d["id"]: (d["fromTask"], d["toTask"], d["type"])
                for d in body["dependencies"]["rows"]}
        assert deps == {r[0]: (r[1], r[2], r[3]) for r in db.query(
            "SELECT id, from_task, to_task, type FROM g_dependencies")}
        asg = {a["id"]: (a["event"], a["resource"]) for a in body["assignments"]["rows"]}
        assert asg == {r[0]: (r[1], r[2]) for r in db.query(
            "SELECT id, task, resource FROM g_assignments")}
        assert [r["name"] for r in body["resources"]["rows"]] == sorted(
            r[0] for r in db.query("SELECT name FROM g_resources"))

    def test_tb_794_02(self, env, httpd, db):
        # the captured child + dependency + assignment, in one sync
        self.reset(env)
        answer = sync(httpd, ADD_CHILD)
        child = phantom_map(answer, "tasks")["_g:T"]
        dep = phantom_map(answer, "dependencies")["_g:D"]
        asg = phantom_map(answer, "assignments")["_g:A"]
        row = task_rows(db)[child]
        assert row == {"parentId": 1, "parentIndex": 2, "name": "New child",
                       "startDate": "2024-01-08T00:00:00Z", "endDate": "2024-01-09T00:00:00Z",
                       "duration": 1, "expanded": False}, row
        assert db.query("SELECT baselines, segments, scheduling_mode, calendar_id "
                        "FROM g_tasks WHERE id = %s", (child,))[0] == ("[]", None, "Normal", None)
        assert db.query("SELECT from_task, to_task, type FROM g_dependencies WHERE id = %s",
                        (dep,)) == [(child, 3, 2)]
        assert db.query("SELECT task, resource, units FROM g_assignments WHERE id = %s",
                        (asg,)) == [(child, 1, 100)]
        tree = self.assert_tree_is_db(httpd, db)
        assert tree[child][0] == 1 and "children" in tree[1][2]

    def test_tb_794_03(self, env, httpd, db):
        # the captured duration change: the moved tasks' dates, the others untouched
        self.reset(env)
        before = task_rows(db)
        sync(httpd, DURATION)
        after = task_rows(db)
        assert (after[2]["endDate"], after[2]["duration"]) == ("2024-01-12T00:00:00Z", 4)
        assert (after[1]["endDate"], after[1]["duration"]) == ("2024-01-17T00:00:00Z", 7)
        assert (after[3]["startDate"], after[3]["endDate"]) == ("2024-01-12T00:00:00Z",
                                                                "2024-01-17T00:00:00Z")
        assert after[3]["duration"] == before[3]["duration"]
        assert {k: v for k, v in after.items() if k not in (1, 2, 3)} == \
            {k: v for k, v in before.items() if k not in (1, 2, 3)}

    def test_tb_794_04(self, env, httpd, db):
        # a new parent with a new child: the child under the parent's new id
        self.reset(env)
        answer = sync(httpd, NEW_PARENT)
        ids = phantom_map(answer, "tasks")
        rows = task_rows(db)
        parent, child = rows[ids["_g:P"]], rows[ids["_g:C"]]
        assert (parent["parentId"], parent["parentIndex"], parent["expanded"]) == (None, 1, True)
        assert (child["parentId"], child["parentIndex"], child["name"]) == (
            ids["_g:P"], 0, "Nested child")
        tree = self.assert_tree_is_db(httpd, db)
        assert [c["id"] for c in tree[ids["_g:P"]][2]["children"]] == [ids["_g:C"]]

    def test_tb_794_05(self, env, httpd, db):
        # the captured indent: root task 1038 goes under task 1, third
        self.reset(env)
        db.execute("INSERT INTO g_tasks (id, parent_id, parent_index, name, start_date, "
                   "end_date, duration) VALUES (1038, NULL, 3, 'Indented', "
                   "'2024-01-08 08:00:00', '2024-01-09 08:00:00', 1)")
        sync(httpd, INDENT)
        assert db.query("SELECT parent_id, parent_index FROM g_tasks WHERE id = 1038") == \
            [(1, 2)]
        tree = self.assert_tree_is_db(httpd, db)
        assert [c["id"] for c in tree[1][2]["children"]] == [2, 3, 1038]

    def test_tb_794_06(self, env, httpd, db):
        # the captured removal of task 3: its dependencies (sent) and its assignment (the
        # cascade, reported) go, its sibling 1000 is renumbered
        self.reset(env)
        db.execute("INSERT INTO g_tasks (id, parent_id, parent_index, name) "
                   "VALUES (1000, 1, 2, 'Sibling')")
        db.execute("INSERT INTO g_dependencies (id, from_task, to_task) VALUES (1001, 3, 1000)")
        assigned = [r[0] for r in db.query("SELECT id FROM g_assignments WHERE task = 3")]
        assert assigned
        answer = sync(httpd, REMOVE_3)
        assert db.scalar("SELECT COUNT(*) FROM g_tasks WHERE id = 3") == 0
        assert db.scalar("SELECT COUNT(*) FROM g_dependencies "
                         "WHERE id IN (1, 1001) OR 3 IN (from_task, to_task)") == 0
        assert db.scalar("SELECT COUNT(*) FROM g_assignments WHERE task = 3") == 0
        removed = {r["id"] for r in answer.get("assignments", {}).get("removed", [])}
        assert removed == set(assigned), answer
        assert db.query("SELECT parent_index FROM g_tasks WHERE id = 1000") == [(1,)]
        tree = self.assert_tree_is_db(httpd, db)
        assert [c["id"] for c in tree[1][2]["children"]] == [2, 1000]

    def test_tb_794_07(self, env, httpd, db):
        # removing a parent removes its subtree: the children and their assignments reported
        self.reset(env)
        answer = sync(httpd, '{"type":"sync","requestId":5,"tasks":{"removed":[{"id":4}]}}')
        assert db.scalar("SELECT COUNT(*) FROM g_tasks WHERE id IN (4, 5, 6)") == 0
        assert {r["id"] for r in answer["tasks"].get("removed", [])} >= {5, 6}, answer
        assert {r["id"] for r in answer["assignments"]["removed"]} == {3}, answer
        self.assert_tree_is_db(httpd, db)

    def test_tb_794_08(self, env, httpd, db):
        # the captured calendar intervals: the added one stored with its calendar and answered
        # nested; the one loaded with id 77 changed in place
        self.reset(env)
        db.execute("INSERT INTO g_calendar_intervals (id, calendar_id, recurrent_start, "
                   "recurrent_end, is_working) VALUES (77, 'general', 'on Sat at 0:00', "
                   "'on Mon at 0:00', 0)")
        count = db.scalar("SELECT COUNT(*) FROM g_calendar_intervals")
        answer = sync(httpd, ADD_INTERVAL)
        cal = [c for c in answer["calendars"]["rows"] if c["id"] == "general"][0]
        new = [r for r in cal["intervals"]["rows"] if r.get("$PhantomId") == "_g:I"][0]["id"]
        assert db.query("SELECT calendar_id, name, start_date, end_date, is_working "
                        "FROM g_calendar_intervals WHERE id = %s", (new,)) == \
            [("general", "Holiday", *[dt(s) for s in ("2024-01-09", "2024-01-10")], 0)]
        assert task_rows(db)[1]["endDate"] == "2024-01-18T00:00:00Z"
        sync(httpd, UPDATE_77)
        assert db.query("SELECT recurrent_start, recurrent_end FROM g_calendar_intervals "
                        "WHERE id = 77") == [("on Fri at 0:00", "on Mon at 0:00")]
        assert db.scalar("SELECT COUNT(*) FROM g_calendar_intervals") == count + 1
        loaded = load(httpd)["calendars"]["rows"][0]["intervals"]
        assert sorted(i["id"] for i in loaded) == sorted(
            r[0] for r in db.query("SELECT id FROM g_calendar_intervals"))

    def test_tb_794_09(self, env, httpd, db):
        # dates from a Stockholm browser: +01:00 stored in UTC, loaded as the same instant;
        # the project's start likewise
        self.reset(env)
        sync(httpd, '{"type":"sync","requestId":6,"tasks":{"updated":[{"startDate":'
                    '"2024-01-09T09:00:00+01:00","endDate":"2024-01-11T09:00:00+01:00","id":2}]},'
                    '"project":{"startDate":"2024-01-08T09:00:00+01:00"}}')
        assert db.query("SELECT start_date, end_date FROM g_tasks WHERE id = 2")[0] == (
            dt("2024-01-09 08:00"), dt("2024-01-11 08:00"))
        assert db.scalar("SELECT start_date FROM g_project") == dt("2024-01-08 08:00")
        body = load(httpd)
        task = flatten(body["tasks"]["rows"])[2][2]
        assert (task["startDate"], task["endDate"]) == ("2024-01-09T08:00:00Z",
                                                        "2024-01-11T08:00:00Z")
        assert body["project"]["startDate"] == "2024-01-08T08:00:00Z"
