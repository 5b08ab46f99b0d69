"""The real Bryntum Scheduler Pro 7.3.2 (the npm trial build @bryntum/schedulerpro-trial, installed
in tests/browser/node_modules by `make -f Makefile.apxs deps`, never committed) in Debian's
chromium, on the Scheduler Pro sample: conf/schedulerpro.conf, sql/schedulerpro.sql and the page
conf/demo-schedulerpro/index.html, driven by tests/browser/schedulerpro.mjs.

The browser runs in Europe/Stockholm, so every date the client sends carries +01:00 and the
database holds UTC.  After every step the page shows what the database holds (the project's
records and the event bars drawn in each resource's row), and again after a reload:

- TestSchedulerProPage.test_tb_780_01: load; drag an event two days later with the mouse; resize
  another one day longer by its end; add an event with an assignment and a dependency to an
  existing event (through the Scheduler Pro's stores, as application code does), which the
  scheduling engine answers by moving the successors; add one with the mouse and the event editor
  (double-click in a resource's row, name it, Save) and draw a dependency from it with the mouse;
  remove an event with the Delete key: its
  assignments and dependencies go with it.

Every load and sync request the client sent, with its answer, is written to
<state>/browser/schedulerpro-requests.json and printed (pytest -s shows it), with a screenshot
(<state>/browser/schedulerpro.png).

Needs node, /usr/bin/chromium, and playwright-core and @bryntum/schedulerpro-trial in
tests/browser/node_modules; without them the tests are skipped, unless TB_BROWSER_REQUIRED=1
(the test command sets it).
"""

import datetime
import json
import os
import shutil

import pytest

import tbtest
from browser_driver import BROWSER_DIR, Browser, missing_tools
from tbtest import MODULES_DIR

PACKAGE = "@bryntum/schedulerpro-trial"
LIB_DIR = os.path.join(BROWSER_DIR, "node_modules", *PACKAGE.split("/"))
DRIVER = os.path.join(BROWSER_DIR, "schedulerpro.mjs")
CONF_FILE = os.path.join(tbtest.REPO, "conf", "schedulerpro.conf")
SQL_FILE = os.path.join(tbtest.REPO, "sql", "schedulerpro.sql")
PAGE_DIR = os.path.join(tbtest.REPO, "conf", "demo-schedulerpro")
TIMEZONE = "Europe/Stockholm"

MISSING = missing_tools(PACKAGE)
if MISSING and os.environ.get("TB_BROWSER_REQUIRED") == "1":
    raise RuntimeError("browser tests required, but missing: " + ", ".join(MISSING))
pytestmark = pytest.mark.skipif(bool(MISSING), reason="no browser: missing " + ", ".join(MISSING))


@pytest.fixture(scope="module")
def browser(env):
    b = Browser(os.path.join(env.state_dir, "schedulerpro-driver.log"), DRIVER)
    yield b
    b.close()


def page_test_conf() -> str:
    """conf/schedulerpro.conf (without what the base config owns), the page at /schedulerpro/
    and the npm package at /bryntum/schedulerpro/, where the page looks for it."""
    with open(CONF_FILE) as f:
        conf = "\n".join(("# (base) " + ln) if tbtest.RE_BASE_LINE.match(ln) else ln
                         for ln in f.read().splitlines())
    return (f'LoadModule dir_module "{MODULES_DIR}/mod_dir.so"\n'
            f'LoadModule alias_module "{MODULES_DIR}/mod_alias.so"\n'
            "DirectoryIndex index.html\n"
            f'Alias /bryntum/schedulerpro/ "{LIB_DIR}/"\n'
            f'<Directory "{LIB_DIR}">\n    Require all granted\n</Directory>\n' + conf + "\n")


# ------------------------------------------------------------------------------------------------
# what the page must show, from the database

def iso(v):
    return None if v is None else v.strftime("%Y-%m-%dT%H:%M:%SZ")


def db_view(db) -> dict:
    return {
        "resources": {r[0]: r[1] for r in db.query("SELECT id, name FROM sp_resources")},
        "events": {r[0]: {"name": r[1], "startDate": iso(r[2]), "endDate": iso(r[3]),
                          "duration": round(r[4], 6), "durationUnit": r[5],
                          "constraintType": r[6], "constraintDate": iso(r[7])}
                   for r in db.query("SELECT id, name, start_date, end_date, duration, "
                                     "duration_unit, constraint_type, constraint_date "
                                     "FROM sp_events")},
        "assignments": {r[0]: (r[1], r[2]) for r in
                        db.query("SELECT id, event, resource FROM sp_assignments")},
        "dependencies": {r[0]: (r[1], r[2], r[3]) for r in
                         db.query("SELECT id, from_event, to_event, type FROM sp_dependencies")},
        "calendars": {c[0]: {"name": c[1], "intervals": {
            i[0]: {"name": i[1], "startDate": iso(i[2]), "endDate": iso(i[3]),
                   "recurrentStartDate": i[4], "recurrentEndDate": i[5], "isWorking": bool(i[6])}
            for i in db.query("SELECT id, name, start_date, end_date, recurrent_start_date, "
                              "recurrent_end_date, is_working FROM sp_calendar_intervals "
                              "WHERE calendar_id = %s", (c[0],))}}
            for c in db.query("SELECT id, name FROM sp_calendars")},
        "project": [{"calendar": r[0], "hoursPerDay": r[1], "daysPerWeek": r[2],
                     "daysPerMonth": r[3]} for r in
                    db.query("SELECT calendar, hours_per_day, days_per_week, days_per_month "
                             "FROM sp_project")][0],
    }


def page_view(view) -> dict:
    return {
        "resources": {r["id"]: r["name"] for r in view["resources"]},
        "events": {e["id"]: {"name": e["name"], "startDate": e["startDate"],
                             "endDate": e["endDate"], "duration": round(e["duration"], 6),
                             "durationUnit": e["durationUnit"],
                             "constraintType": e["constraintType"],
                             "constraintDate": e["constraintDate"]} for e in view["events"]},
        "assignments": {a["id"]: (a["event"], a["resource"]) for a in view["assignments"]},
        "dependencies": {d["id"]: (d["from"], d["to"], d["type"]) for d in view["dependencies"]},
        "calendars": {c["id"]: {"name": c["name"], "intervals": {
            i["id"]: {k: v for k, v in i.items() if k != "id"} for i in c["intervals"]}}
            for c in view["calendars"]},
        "project": view["project"],
    }


def assert_shows_db(view, db, what):
    page, expected = page_view(view), db_view(db)
    for part in expected:
        assert page[part] == expected[part], (
            f"{what}: the page's {part} are not the database's\n"
            f"  page     {page[part]}\n  database {expected[part]}")
    assert view["status"] == "saved" and not view["changes"], (what, view["status"],
                                                                view["message"])
    # every assignment is drawn: a bar of its event, named, in its resource's row
    bars = {(b["event"], b["resource"]): b["text"] for b in view["bars"]}
    drawn = {(str(e), str(r)): expected["events"][e]["name"]
             for e, r in expected["assignments"].values()}
    assert bars == drawn, f"{what}: bars drawn {bars}, the database's assignments {drawn}"


def shifted(value: str, days: float) -> str:
    t = datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ") + datetime.timedelta(days=days)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class TestSchedulerProPage:
    CONF = page_test_conf()

    @classmethod
    def prepare_class(cls, env, httpd):
        env.db_load(SQL_FILE)
        target = os.path.join(httpd.root, "htdocs", "schedulerpro")
        os.makedirs(target, exist_ok=True)
        os.chmod(target, 0o755)
        for name in os.listdir(PAGE_DIR):
            shutil.copy(os.path.join(PAGE_DIR, name), target)
            os.chmod(os.path.join(target, name), 0o644)

    @classmethod
    def cleanup_class(cls, env):
        env.db_load(SQL_FILE)

    def step(self, browser, db, what, view):
        """The page against the database, then again after a reload; the requests recorded."""
        assert_shows_db(view, db, what)
        self.requests.append({"step": what, "requests": browser.call(
            "requests", page="a")["requests"]})
        view = browser.call("reload", page="a")["view"]
        assert view["loads"] == 1 and view["syncs"] == 0, view      # a fresh page, no changes
        assert_shows_db(view, db, what + ", reloaded")
        self.requests.append({"step": what + ", reloaded", "requests": browser.call(
            "requests", page="a")["requests"]})
        return view

    def test_tb_780_01(self, env, httpd, db, browser):
        self.requests = []
        try:
            self.run_steps(env, httpd, db, browser)
        finally:
            # the requests of a step that failed, too
            self.requests.append({"step": "last", "requests": browser.call(
                "requests", page="a")["requests"]})
            self.record_requests(env)
            browser.call("closePage", page="a")

    def run_steps(self, env, httpd, db, browser):
        view = browser.call("open", page="a", url=httpd.url("/schedulerpro/"),
                            timezone=TIMEZONE)["view"]
        assert view["loads"] == 1 and view["syncs"] == 0, view
        assert len(view["events"]) == 6 and len(view["bars"]) == 7, view
        view = self.step(browser, db, "load", view)
        before = db_view(db)["events"]

        # drag Review (no dependencies) two days later with the mouse
        rev = db.scalar("SELECT value FROM sp_options WHERE name = 'revision'")
        view = browser.call("drag", page="a", event=4, days=2)["view"]
        moved = db_view(db)["events"][4]
        assert moved["startDate"] == shifted(before[4]["startDate"], 2), moved
        assert moved["endDate"] == shifted(before[4]["endDate"], 2), moved
        assert moved["duration"] == before[4]["duration"]
        # and pinned where it was dropped, as Scheduler Pro does
        assert (moved["constraintType"], moved["constraintDate"]) == (
            "startnoearlierthan", moved["startDate"]), moved
        assert db.scalar("SELECT value FROM sp_options WHERE name = 'revision'") > rev
        view = self.step(browser, db, "drag", view)

        # resize Documentation one day longer by its end
        view = browser.call("resize", page="a", event=5, days=1)["view"]
        resized = db_view(db)["events"][5]
        assert resized["startDate"] == before[5]["startDate"], resized
        assert resized["endDate"] == shifted(before[5]["endDate"], 1), resized
        assert resized["duration"] == before[5]["duration"] + 1, resized
        view = self.step(browser, db, "resize", view)

        # a new event for Dave, with a dependency to Release; it ends after Release starts,
        # so the engine moves Release to its end
        ids = set(db_view(db)["events"])
        answer = browser.call("run", page="a", script="""
            const p = window.scheduler.project;
            const [event] = p.eventStore.add({name: 'Added in the browser',
                startDate: new Date(2024, 0, 17, 9), duration: 2, durationUnit: 'day'});
            p.assignmentStore.add({event, resource: p.resourceStore.getById(3)});
            p.dependencyStore.add({fromEvent: event, toEvent: p.eventStore.getById(6)});
            // made as {from, to}, as the Scheduler's own examples do
            p.dependencyStore.add({from: 4, to: 5});
            await p.commitAsync();
            return event.id;""")
        view = answer["view"]
        after = db_view(db)
        new_ids = set(after["events"]) - ids
        assert len(new_ids) == 1, after["events"]
        new_id = new_ids.pop()
        added = after["events"][new_id]
        # 09:00 in Stockholm is 08:00 UTC
        assert (added["name"], added["startDate"], added["endDate"]) == (
            "Added in the browser", "2024-01-17T08:00:00Z", "2024-01-19T08:00:00Z"), added
        assert [a for a in after["assignments"].values() if a[0] == new_id] == [(new_id, 3)]
        assert [d for d in after["dependencies"].values() if d[0] == new_id] == [(new_id, 6, 2)]
        assert [d for d in after["dependencies"].values() if d[0] == 4] == [(4, 5, 2)]
        assert after["events"][6]["startDate"] == added["endDate"], after["events"][6]
        view = self.step(browser, db, "add with assignment and dependency", view)

        # a new event for Lee, made with the mouse and the event editor: double-click in Lee's
        # row on 18 January, name it, save
        ids = set(db_view(db)["events"])
        view = browser.call("addWithEditor", page="a", resource=4, date="2024-01-18T09:00",
                            eventName="Made in the editor")["view"]
        after = db_view(db)
        new_ids = set(after["events"]) - ids
        assert len(new_ids) == 1, after["events"]
        made_id = new_ids.pop()
        made = after["events"][made_id]
        assert made["name"] == "Made in the editor", made
        assert [a[1] for a in after["assignments"].values() if a[0] == made_id] == [4], \
            after["assignments"]
        view = self.step(browser, db, "add in the event editor", view)

        # and a dependency from it to Release, drawn with the mouse from its end terminal
        view = browser.call("link", page="a", **{"from": made_id, "to": 6})["view"]
        assert [d for d in db_view(db)["dependencies"].values() if d[0] == made_id] == \
            [(made_id, 6, 2)]
        view = self.step(browser, db, "dependency drawn with the mouse", view)

        # remove Design (assigned to Arcady, Build depends on it) with the Delete key
        assert db.scalar("SELECT COUNT(*) FROM sp_assignments WHERE event = 1") == 1
        assert db.scalar("SELECT COUNT(*) FROM sp_dependencies WHERE from_event = 1") == 1
        view = browser.call("removeSelected", page="a", event=1)["view"]
        assert db.scalar("SELECT COUNT(*) FROM sp_events WHERE id = 1") == 0
        assert db.scalar("SELECT COUNT(*) FROM sp_assignments WHERE event = 1") == 0
        assert db.scalar("SELECT COUNT(*) FROM sp_dependencies "
                         "WHERE from_event = 1 OR to_event = 1") == 0
        view = self.step(browser, db, "remove", view)

        # the company day of the project's calendar moved a week later and renamed, through the
        # calendar's interval store (Scheduler Pro 7.3.2 has no calendar editor of its own)
        answer = browser.call("run", page="a", script="""
            const general = window.scheduler.project.calendarManagerStore.getById('general');
            general.intervalStore.getById(1).set({name: 'Company offsite',
                startDate: new Date(2024, 1, 12), endDate: new Date(2024, 1, 13)});
            await window.scheduler.project.commitAsync();""")
        interval = db_view(db)["calendars"]["general"]["intervals"][1]
        # midnight in Stockholm is 23:00 UTC the day before
        assert (interval["name"], interval["startDate"], interval["endDate"]) == (
            "Company offsite", "2024-02-11T23:00:00Z", "2024-02-12T23:00:00Z"), interval
        view = self.step(browser, db, "calendar interval edited", answer["view"])

        # and a new one: a non-working afternoon, added to the calendar
        intervals = set(db_view(db)["calendars"]["general"]["intervals"])
        answer = browser.call("run", page="a", script="""
            const general = window.scheduler.project.calendarManagerStore.getById('general');
            general.addInterval({name: 'Kick-off', startDate: new Date(2024, 2, 4, 13),
                                 endDate: new Date(2024, 2, 4, 18), isWorking: false});
            await window.scheduler.project.commitAsync();""")
        general = db_view(db)["calendars"]["general"]["intervals"]
        new_intervals = set(general) - intervals
        assert len(new_intervals) == 1, general
        added = general[new_intervals.pop()]
        assert (added["name"], added["startDate"], added["endDate"], added["isWorking"]) == (
            "Kick-off", "2024-03-04T12:00:00Z", "2024-03-04T17:00:00Z", False), added
        assert db.scalar("SELECT COUNT(*) FROM sp_calendar_intervals") == 3
        view = self.step(browser, db, "calendar interval added", answer["view"])

        # a project field: the days of a month (no duration here is in months: nothing moves)
        answer = browser.call("run", page="a", script="""
            window.scheduler.project.daysPerMonth = 20;
            await window.scheduler.project.commitAsync();""")
        assert db_view(db)["project"]["daysPerMonth"] == 20
        assert db.scalar("SELECT updated_at FROM sp_project") is not None
        view = self.step(browser, db, "project field changed", answer["view"])

        shots = os.path.join(env.state_dir, "browser")
        os.makedirs(shots, exist_ok=True)
        path = browser.call("screenshot", page="a",
                            path=os.path.join(shots, "schedulerpro.png"))["path"]
        tbtest.ARTIFACTS.append(("screenshot of Scheduler Pro 7.3.2", path))
        print(f"screenshot: {path}")
        problems = browser.call("view", page="a")["problems"]
        assert problems == [], "\n".join(problems)

    def record_requests(self, env):
        """Every request of the run, with its answer, to a file and to the output."""
        shots = os.path.join(env.state_dir, "browser")
        os.makedirs(shots, exist_ok=True)
        path = os.path.join(shots, "schedulerpro-requests.json")
        with open(path, "w") as f:
            json.dump(self.requests, f, indent=1)
        tbtest.ARTIFACTS.append(("requests of Scheduler Pro 7.3.2", path))
        print(f"requests: {path}")
        for step in self.requests:
            for r in step["requests"]:
                print(f"[{step['step']}] {r['method']} {r['url']} {r.get('body') or ''}")
                print(f"    -> {r.get('status')} {(r.get('answer') or '')[:2000]}")
