"""Nested stores (issue 16, point 3): a calendar's intervals live in a table of their own and
travel inside the calendar's rows (TaskBoardNested): loaded nested with their ids, synced from the
nested changesets the Gantt and Scheduler Pro send inside the calendar's record, their phantom ids
answered nested, removed with their calendar.  The syncs are the captured bodies of
docs/protocol.md, section 8; every answer is checked against the tables.
"""

import json
import urllib.parse

from tbtest import check_error, describe, json_body, sync_post

CONF = """\
<Location /ns>
    TaskBoardRevision ns_options value name=revision
    <TaskBoardStore calendars>
        TaskBoardTable ns_calendars
        TaskBoardId id string
        TaskBoardField name string
    </TaskBoardStore>
    <TaskBoardStore intervals>
        TaskBoardTable ns_intervals
        TaskBoardField calendar           string   column=calendar_id references=calendars
        TaskBoardField name               string   maxlength=50
        TaskBoardField recurrentStartDate string   column=recurrent_start
        TaskBoardField recurrentEndDate   string   column=recurrent_end
        TaskBoardField startDate          datetime column=start_date
        TaskBoardField endDate            datetime column=end_date
        TaskBoardField isWorking          boolean  column=is_working
        TaskBoardNested calendar intervals
    </TaskBoardStore>
    <TaskBoardStore tasks>
        TaskBoardTable ns_tasks
        TaskBoardField endDate datetime column=end_date
    </TaskBoardStore>
</Location>
<Location /ns/load>
    SetHandler taskboard-load
</Location>
<Location /ns/sync>
    SetHandler taskboard-sync
</Location>
<Location /ns/full>
    SetHandler taskboard-sync
    TaskBoardSyncResponse full
</Location>
"""

TABLES = ("ns_intervals", "ns_calendars", "ns_tasks", "ns_options")
CHARSET = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"
DDL = [
    f"CREATE TABLE ns_options (name VARCHAR(50) PRIMARY KEY, value BIGINT NOT NULL) {CHARSET}",
    f"""CREATE TABLE ns_calendars (id VARCHAR(50) PRIMARY KEY, name VARCHAR(100) NULL)
        {CHARSET}""",
    f"""CREATE TABLE ns_intervals (id INT AUTO_INCREMENT PRIMARY KEY,
        calendar_id VARCHAR(50) NOT NULL, name VARCHAR(50) NULL,
        recurrent_start VARCHAR(100) NULL, recurrent_end VARCHAR(100) NULL,
        start_date DATETIME NULL, end_date DATETIME NULL, is_working TINYINT(1) NULL,
        KEY idx_calendar (calendar_id),
        FOREIGN KEY (calendar_id) REFERENCES ns_calendars (id) ON DELETE CASCADE) {CHARSET}""",
    f"""CREATE TABLE ns_tasks (id INT AUTO_INCREMENT PRIMARY KEY, end_date DATETIME NULL)
        {CHARSET}""",
]

INTERVAL_COLUMNS = ("id", "calendar_id", "name", "recurrent_start", "recurrent_end",
                    "start_date", "end_date", "is_working")

# docs/protocol.md, section 8: an interval added inside the calendar's record (with a change of
# a task in the same sync), and an interval loaded with id 77 changed
ADD_INTERVAL = ('{"type":"sync","requestId":17961579262454,"calendars":{"updated":[{"version":3,'
                '"intervals":{"added":[{"name":"Holiday","startDate":"2024-01-09T00:00:00Z",'
                '"endDate":"2024-01-10T00:00:00Z","isWorking":false,"$PhantomId":"_g:I"}]},'
                '"id":"general"}]},"tasks":{"updated":[{"endDate":"2024-01-18T00:00:00Z",'
                '"id":1}]}}')
UPDATE_77 = ('{"type":"sync","calendars":{"updated":[{"version":2,"intervals":{"updated":'
             '[{"recurrentStartDate":"on Fri at 0:00","id":77}]},"id":"general"}]}}')


def load(httpd, stores=("calendars", "intervals", "tasks")):
    package = {"type": "load", "requestId": 3, "stores": list(stores)}
    resp = httpd.get("/ns/load?data=" + urllib.parse.quote(json.dumps(package)))
    assert resp.status_code == 200, describe(resp)
    return json_body(resp)


def sync(httpd, body):
    return sync_post(httpd, json.loads(body) if isinstance(body, str) else body,
                     path="/ns/sync")


def ok(resp):
    assert resp.status_code == 200, describe(resp)
    body = json_body(resp)
    assert body["success"] is True, describe(resp)
    return body


class TestNested:
    CONF = CONF

    @classmethod
    def prepare_class(cls, db):
        for t in TABLES:
            db.execute(f"DROP TABLE IF EXISTS `{t}`")
        for sql in DDL:
            db.execute(sql)

    @classmethod
    def cleanup_class(cls, db):
        for t in TABLES:
            db.execute(f"DROP TABLE IF EXISTS `{t}`")

    def seed(self, db):
        # a revision above every earlier test's, so that no answer cached for one is reused
        revision = 100 + (db.scalar("SELECT COALESCE(MAX(value), 0) FROM ns_options") or 0)
        for t in TABLES:
            db.execute(f"DELETE FROM `{t}`")
        db.execute("INSERT INTO ns_options VALUES ('revision', %s)", (revision,))
        db.execute("INSERT INTO ns_calendars VALUES ('general', 'General'), "
                   "('night', 'Night shift'), ('empty', 'No intervals')")
        db.execute("INSERT INTO ns_intervals (id, calendar_id, recurrent_start, recurrent_end, "
                   "is_working) VALUES (77, 'general', 'on Sat at 0:00', 'on Mon at 0:00', 0), "
                   "(78, 'night', 'at 6:00', 'at 22:00', 0), "
                   "(79, 'general', 'at 0:00', 'at 8:00', 0)")
        db.execute("INSERT INTO ns_tasks (id, end_date) VALUES (1, '2024-01-12 00:00:00')")

    def intervals(self, db, calendar=None):
        where, args = ("WHERE calendar_id = %s", (calendar,)) if calendar else ("", None)
        return {r[0]: dict(zip(INTERVAL_COLUMNS, r)) for r in db.query(
            f"SELECT {', '.join(INTERVAL_COLUMNS)} FROM ns_intervals {where} ORDER BY id", args)}

    def test_tb_792_01(self, httpd, db):
        # a load: each calendar carries its intervals, with their ids, and nothing else does
        self.seed(db)
        body = load(httpd)
        assert "intervals" not in body                  # not a store section of its own
        rows = {c["id"]: c for c in body["calendars"]["rows"]}
        assert set(rows) == {r[0] for r in db.query("SELECT id FROM ns_calendars")}
        for cid, cal in rows.items():
            want = self.intervals(db, cid)
            assert [i["id"] for i in cal["intervals"]] == list(want), cid
            for got in cal["intervals"]:
                row = want[got["id"]]
                assert got["calendar"] == cid
                assert got["recurrentStartDate"] == row["recurrent_start"]
                assert got["isWorking"] is bool(row["is_working"])
        assert rows["empty"]["intervals"] == []

    def test_tb_792_02(self, httpd, db):
        # the captured Gantt sync: an interval added inside the calendar's record is stored under
        # that calendar, and its id answered nested under the calendar's row
        self.seed(db)
        before = self.intervals(db)
        answer = ok(sync(httpd, ADD_INTERVAL))
        after = self.intervals(db)
        [new_id] = set(after) - set(before)
        assert after[new_id]["calendar_id"] == "general"
        assert after[new_id]["name"] == "Holiday"
        assert str(after[new_id]["start_date"]) == "2024-01-09 00:00:00"
        assert "intervals" not in answer, answer
        [cal] = answer["calendars"]["rows"]
        assert cal["id"] == "general"
        [row] = cal["intervals"]["rows"]
        assert row["$PhantomId"] == "_g:I" and row["id"] == new_id
        assert str(db.scalar("SELECT end_date FROM ns_tasks WHERE id = 1")) == \
            "2024-01-18 00:00:00"
        # the next load shows it under its calendar
        cal = [c for c in load(httpd)["calendars"]["rows"] if c["id"] == "general"][0]
        assert new_id in [i["id"] for i in cal["intervals"]]

    def test_tb_792_03(self, httpd, db):
        # an interval loaded with id 77, changed: updated in place, not added a second time
        self.seed(db)
        before = self.intervals(db)
        answer = ok(sync(httpd, UPDATE_77))
        after = self.intervals(db)
        # the short answer names the updated interval under its calendar: Scheduler Pro 7.3.2
        # keeps it (and the calendar) unsaved otherwise (test_780_schedulerpro_browser.py)
        assert answer["calendars"] == {"rows": [{"id": "general",
                                                 "intervals": {"rows": [{"id": 77}]}}]}, answer
        assert set(after) == set(before)
        assert after[77]["recurrent_start"] == "on Fri at 0:00"
        assert after[77]["recurrent_end"] == before[77]["recurrent_end"]
        assert {k: v for k, v in after.items() if k != 77} == \
            {k: v for k, v in before.items() if k != 77}

    def test_tb_792_04(self, httpd, db):
        # removed inside the calendar's record: gone
        self.seed(db)
        answer = ok(sync(httpd, {"type": "sync", "calendars": {"updated": [
            {"id": "general", "intervals": {"removed": [{"id": 79}]}}]}}))
        assert 79 not in self.intervals(db) and 77 in self.intervals(db)
        # a short answer does not repeat what the client removed
        assert "intervals" not in answer and "calendars" not in answer, answer

    def test_tb_792_05(self, httpd, db):
        # a new calendar with new intervals (a new parent may send them as a changeset or as
        # plain rows): stored under the new calendar, answered inside its row
        self.seed(db)
        answer = ok(sync(httpd, {"type": "sync", "calendars": {"added": [
            {"$PhantomId": "_g:C1", "id": "weekend", "name": "Weekend",
             "intervals": {"added": [{"$PhantomId": "_g:I1", "recurrentStartDate": "on Sat",
                                      "recurrentEndDate": "on Mon", "isWorking": True}]}},
            {"$PhantomId": "_g:C2", "id": "holidays",
             "intervals": [{"$PhantomId": "_g:I2", "name": "New year",
                            "startDate": "2025-01-01T00:00:00+01:00",
                            "endDate": "2025-01-02T00:00:00+01:00"}]}]}}))
        weekend, holidays = self.intervals(db, "weekend"), self.intervals(db, "holidays")
        assert len(weekend) == 1 and len(holidays) == 1
        [w], [h] = weekend.values(), holidays.values()
        assert w["is_working"] == 1 and w["recurrent_start"] == "on Sat"
        assert str(h["start_date"]) == "2024-12-31 23:00:00"        # +01:00, stored in UTC
        rows = {c["$PhantomId"]: c for c in answer["calendars"]["rows"]}
        assert rows["_g:C1"]["intervals"]["rows"][0]["$PhantomId"] == "_g:I1"
        assert rows["_g:C1"]["intervals"]["rows"][0]["id"] == w["id"]
        assert rows["_g:C2"]["intervals"]["rows"][0]["id"] == h["id"]
        # and back as the same instant
        loaded = load(httpd)
        cal = [c for c in loaded["calendars"]["rows"] if c["id"] == "holidays"]
        assert cal, loaded
        cal = cal[0]
        assert cal["intervals"][0]["startDate"] == "2024-12-31T23:00:00Z"

    def test_tb_792_06(self, httpd, db):
        # removing a calendar removes its intervals with it
        self.seed(db)
        ok(sync(httpd, {"type": "sync", "calendars": {"removed": [{"id": "general"}]}}))
        assert self.intervals(db, "general") == {}
        assert 78 in self.intervals(db)

    def test_tb_792_07(self, httpd, db):
        # a nested record that fails its checks fails the whole sync: nothing is written
        self.seed(db)
        before = self.intervals(db)
        resp = sync(httpd, {"type": "sync", "calendars": {"updated": [
            {"id": "general", "name": "Renamed", "intervals": {
                "added": [{"$PhantomId": "_g:I", "name": "x" * 51}],
                "removed": [{"id": 77}]}}]}})
        body = check_error(resp, 422, kind="sync")
        assert "intervals" in json.dumps(body["errors"])
        assert self.intervals(db) == before
        assert db.scalar("SELECT name FROM ns_calendars WHERE id = 'general'") == "General"

    def test_tb_792_08(self, httpd, db):
        # nested changes that are not changesets, or a record without its id, are a 400
        self.seed(db)
        for calendars in ({"updated": [{"id": "general", "intervals": "77"}]},
                          {"updated": [{"intervals": {"removed": [{"id": 77}]}}]},
                          {"updated": [{"id": "general", "intervals": {"added": [5]}}]}):
            check_error(sync(httpd, {"type": "sync", "calendars": calendars}), 400,
                        kind="sync")
        assert 77 in self.intervals(db)

    def test_tb_792_09(self, httpd, db):
        # a full answer (TaskBoardSyncResponse full) mentions every nested record, each under its
        # own calendar: two calendars' intervals in one sync are told apart
        self.seed(db)
        answer = ok(sync_post(httpd, {"type": "sync", "calendars": {"updated": [
            {"id": "general", "intervals": {"updated": [{"id": 77, "name": "Weekend"}],
                                            "removed": [{"id": 79}]}},
            {"id": "night", "intervals": {"updated": [{"id": 78, "name": "Night"}],
                                          "added": [{"$PhantomId": "_g:N"}]}}]}},
            path="/ns/full"))
        assert "intervals" not in answer, answer
        rows = {c["id"]: c["intervals"] for c in answer["calendars"]["rows"]}
        new_id = db.scalar("SELECT id FROM ns_intervals WHERE calendar_id = 'night' "
                           "AND id NOT IN (78)")
        assert [r["id"] for r in rows["general"]["rows"]] == [77]
        assert rows["general"]["removed"] == [{"id": 79}]
        assert sorted(r["id"] for r in rows["night"]["rows"]) == sorted([78, new_id])
        assert {r.get("$PhantomId") for r in rows["night"]["rows"]} == {None, "_g:N"}
        assert self.intervals(db)[77]["name"] == "Weekend"
        assert self.intervals(db)[78]["name"] == "Night"

