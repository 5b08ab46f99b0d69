"""The Scheduler and Calendar sample users copy: conf/scheduler.conf on sql/scheduler.sql, as
shipped.  The captured Scheduler and Calendar 5.6.2 syncs of ../shared/PROTOCOL.md section 5 are
sent verbatim and checked in the tables: events in single assignment mode (resourceId on the
event), a dependency from a new event, a move, a recurring event; the clients' own assignment
changes are accepted and dropped (TaskBoardIgnoreStore assignments).
"""

import datetime
import os
import urllib.parse

import tbtest
from tbtest import describe, json_body, sync_post

CONF_FILE = os.path.join(tbtest.REPO, "conf", "scheduler.conf")
SQL_FILE = os.path.join(tbtest.REPO, "sql", "scheduler.sql")

SCHEDULER_ADD = ('{"type":"sync","requestId":17961578700001,"events":{"added":[{"startDate":'
                 '"2024-01-09T09:00:00Z","endDate":"2024-01-09T11:00:00Z","duration":'
                 '0.08333333333333333,"durationUnit":"day","cls":"","name":"New event 2",'
                 '"exceptionDates":[],"resourceId":2,"allDay":false,"$PhantomId":"_g:E"}]},'
                 '"dependencies":{"added":[{"from":"_g:E","to":1,"type":2,"cls":"","lag":0,'
                 '"lagUnit":"d","$PhantomId":"_g:D"}]}}')
CALENDAR_ADD = ('{"type":"sync","requestId":17961578700002,"events":{"added":[{"startDate":'
                '"2024-01-10T11:00:00Z","endDate":"2024-01-10T12:00:00Z","duration":'
                '0.041666666666666664,"durationUnit":"day","cls":"","name":"New event",'
                '"exceptionDates":[],"resourceId":1,"allDay":false,"$PhantomId":"_g:E"}]}}')
CALENDAR_MOVE = ('{"type":"sync","requestId":17961578700003,"events":{"updated":[{"startDate":'
                 '"2024-01-11T09:00:00Z","endDate":"2024-01-11T10:00:00Z","id":1}]}}')
# the add, with the recurrence the Calendar adds to it
CALENDAR_RECURRING = CALENDAR_ADD.replace('"allDay":false,',
                                          '"allDay":false,"recurrenceRule":"FREQ=DAILY;COUNT=5",')
# what the clients send of their own assignment of an added event, after its sync
ASSIGNMENT = ('{"type":"sync","requestId":17961578700004,"assignments":{"updated":'
              '[{"eventId":5,"id":"a-5"}]}}')


def dt(text):
    return datetime.datetime.fromisoformat(text)


def sync(httpd, body):
    resp = sync_post(httpd, body, path="/scheduler/api/sync")
    assert resp.status_code == 200, describe(resp)
    answer = json_body(resp)
    assert answer["success"] is True, answer
    return answer


def event(db, event_id):
    return db.query("SELECT name, resource_id, start_date, end_date, recurrence_rule, "
                    "exception_dates FROM s_events WHERE id = %s", (event_id,))


class TestSchedulerSample:
    CONF = tbtest.sample_test_conf(CONF_FILE)
    CACHE_OFF = True                    # the sample is loaded again for every test

    @classmethod
    def cleanup_class(cls, env):
        env.db_load(SQL_FILE)

    def test_tb_796_01(self, env, httpd, db):
        # the load both clients ask for: events with resourceId, the recurrence as stored
        env.db_load(SQL_FILE)
        package = ('{"type":"load","requestId":1,"stores":["resources","events","assignments",'
                   '"dependencies","timeRanges","resourceTimeRanges"]}')
        resp = httpd.get("/scheduler/api/load?data=" + urllib.parse.quote(package))
        assert resp.status_code == 200, describe(resp)
        body = json_body(resp)
        assert "assignments" not in body
        events = {e["id"]: e for e in body["events"]["rows"]}
        assert {i: (e["resourceId"], e["recurrenceRule"]) for i, e in events.items()} == {
            r[0]: (r[1], r[2]) for r in db.query(
                "SELECT id, resource_id, recurrence_rule FROM s_events")}
        assert [(d["from"], d["to"]) for d in body["dependencies"]["rows"]] == \
            db.query("SELECT from_event, to_event FROM s_dependencies ORDER BY id")

    def test_tb_796_02(self, env, httpd, db):
        # the captured Scheduler sync: an event in Celia's row and a dependency from it
        env.db_load(SQL_FILE)
        answer = sync(httpd, SCHEDULER_ADD)
        new = [r["id"] for r in answer["events"]["rows"] if r.get("$PhantomId") == "_g:E"][0]
        dep = [r["id"] for r in answer["dependencies"]["rows"]
               if r.get("$PhantomId") == "_g:D"][0]
        assert event(db, new) == [("New event 2", 2, dt("2024-01-09 09:00"),
                                   dt("2024-01-09 11:00"), None, "[]")]
        assert db.query("SELECT from_event, to_event, type, lag_unit FROM s_dependencies "
                        "WHERE id = %s", (dep,)) == [(new, 1, 2, "d")]

    def test_tb_796_03(self, env, httpd, db):
        # the captured Calendar syncs: add, move, a recurring event; then the clients' own
        # assignment change, accepted and not stored anywhere
        env.db_load(SQL_FILE)
        answer = sync(httpd, CALENDAR_ADD)
        added = answer["events"]["rows"][0]["id"]
        assert event(db, added) == [("New event", 1, dt("2024-01-10 11:00"),
                                     dt("2024-01-10 12:00"), None, "[]")]
        sync(httpd, CALENDAR_MOVE)
        assert event(db, 1)[0][2:4] == (dt("2024-01-11 09:00"), dt("2024-01-11 10:00"))
        answer = sync(httpd, CALENDAR_RECURRING)
        recurring = answer["events"]["rows"][0]["id"]
        assert event(db, recurring)[0][4] == "FREQ=DAILY;COUNT=5"
        count = db.scalar("SELECT COUNT(*) FROM s_events")
        revision = db.scalar("SELECT value FROM s_options WHERE name = 'revision'")
        sync(httpd, ASSIGNMENT)
        assert db.scalar("SELECT COUNT(*) FROM s_events") == count
        assert db.scalar("SELECT value FROM s_options WHERE name = 'revision'") == revision
