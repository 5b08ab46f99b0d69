"""Lazy loading with the real Bryntum Scheduler Pro 7.3.2 (the npm trial build, as in
test_780_schedulerpro_browser.py): the page conf/demo-schedulerpro/index.html with ?lazy=1 (the
project's `lazyLoad: true`) on a board of 5,000 resources and 50,000 events, served with
`TaskBoardLazyLoad rows` (resources) and `TaskBoardLazyLoad span startDate endDate maxdays=n`
(events; the assignments follow the events' window, `TaskBoardLazyLoad follow`; the
dependencies are loaded whole: 7.3.2 asks for them in its first load only).

TestSchedulerProLazy.test_tb_781_01: the first load, the resource grid scrolled to row 3001 with
the mouse wheel, the time axis scrolled to its end, and a new time span (the next nine weeks).
For each, every load request the client sent is checked (a GET with "params" in the package, the
stores it lists) with its answer (exactly the rows those params pick, computed here from the
tables), and what the page shows (the resources of the rows in view, the event bars in the
visible time span) is compared with the database.  The page does not sync by itself (?lazy=1
turns autoSync off): the scheduling engine changes events of the windows it loads, which is
recorded, not saved.  The figures (rows and bytes per answer, statements per request from MariaDB's general
log) are printed and written to <state>/browser/schedulerpro-lazy-requests.json, with a
screenshot (<state>/browser/schedulerpro-lazy.png).
"""

import datetime
import json
import os
import shutil
import time
import urllib.parse

import pytest

import tbtest
from browser_driver import Browser
from test_780_schedulerpro_browser import (DRIVER, MISSING, PAGE_DIR, TIMEZONE,  # noqa: F401
                                           page_test_conf, pytestmark)

RESOURCES = 5000
EVENTS = 50000
MAXDAYS = 7
ROW_HEIGHT = 50          # the page's rowHeight

CONF_LAZY = f"""
<Location /splazy/api>
    TaskBoardRevision spl_options value name=revision
    <TaskBoardStore resources>
        TaskBoardTable spl_resources
        TaskBoardField name string
        TaskBoardLazyLoad rows
    </TaskBoardStore>
    <TaskBoardStore events>
        TaskBoardTable spl_events
        TaskBoardField name         string
        TaskBoardField startDate    datetime column=start_date
        TaskBoardField endDate      datetime column=end_date
        TaskBoardField duration     number
        TaskBoardField durationUnit string   column=duration_unit
        TaskBoardField percentDone  number   column=percent_done
        TaskBoardField effort       number
        TaskBoardField effortUnit   string   column=effort_unit
        TaskBoardField schedulingMode string column=scheduling_mode
        TaskBoardLazyLoad span startDate endDate maxdays={MAXDAYS}
    </TaskBoardStore>
    <TaskBoardStore assignments>
        TaskBoardTable spl_assignments
        TaskBoardField eventId    int column=event    references=events
        TaskBoardField resourceId int column=resource references=resources
        TaskBoardField units      number
        TaskBoardField cost       number
        TaskBoardLazyLoad follow
    </TaskBoardStore>
    # 7.3.2 asks for the dependencies in its first load only, never with a later window: they do
    # not follow the events' window (no TaskBoardLazyLoad follow), so the first load has them all.
    <TaskBoardStore dependencies>
        TaskBoardTable spl_dependencies
        TaskBoardField fromEvent int column=from_event alias=from references=events
        TaskBoardField toEvent   int column=to_event   alias=to   references=events
    </TaskBoardStore>
</Location>
<Location /splazy/api/load>
    SetHandler taskboard-load
</Location>
<Location /splazy/api/sync>
    SetHandler taskboard-sync
</Location>
"""

TABLES = ("spl_dependencies", "spl_assignments", "spl_events", "spl_resources", "spl_options")
CHARSET = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"
# the indexes of docs/protocol.md, "Lazy loading": the resources are read in id order (the
# primary key), the events by start (maxdays=) and end, the others by their event
DDL = [
    f"CREATE TABLE spl_options (name VARCHAR(50) PRIMARY KEY, value BIGINT NOT NULL) {CHARSET}",
    f"CREATE TABLE spl_resources (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL) {CHARSET}",
    f"""CREATE TABLE spl_events (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL,
        start_date DATETIME NULL, end_date DATETIME NULL, duration DOUBLE NULL,
        duration_unit VARCHAR(20) NOT NULL DEFAULT 'day', percent_done DOUBLE NOT NULL DEFAULT 0,
        effort DOUBLE NULL, effort_unit VARCHAR(20) NOT NULL DEFAULT 'hour',
        scheduling_mode VARCHAR(20) NOT NULL DEFAULT 'Normal',
        KEY idx_start (start_date), KEY idx_end (end_date)) {CHARSET}""",
    f"""CREATE TABLE spl_assignments (id INT PRIMARY KEY, event INT NOT NULL,
        resource INT NOT NULL, units DOUBLE NOT NULL DEFAULT 100,
        cost DOUBLE NOT NULL DEFAULT 0, KEY idx_event (event), KEY idx_resource (resource)) {CHARSET}""",
    f"""CREATE TABLE spl_dependencies (id INT PRIMARY KEY, from_event INT NOT NULL,
        to_event INT NOT NULL, KEY idx_from (from_event), KEY idx_to (to_event)) {CHARSET}""",
]
PER_RESOURCE = EVENTS // RESOURCES
# Resource r (1..5000) has 10 events one after the other, event k (0..9) of it is event
# (r - 1) * 10 + k + 1: it starts 2024-01-01 + 30 k + (r mod 23) days at 08:00 UTC and lasts
# 1 + (r mod 3) days (at most 3, within maxdays), with the effort and percentDone the engine
# computes for it (24 hours a working day, one resource; schedulingMode Normal; the
# assignments' units and cost): loaded without them, the engine marks
# every event of a later window as changed.  Every 10th resource's events are chained by
# dependencies (each ends before the next starts, so the engine moves nothing).
FILL = [
    f"INSERT INTO spl_resources (id, name) SELECT seq, CONCAT('Resource ', LPAD(seq, 5, '0')) "
    f"FROM seq_1_to_{RESOURCES}",
    f"""INSERT INTO spl_events (id, name, start_date, end_date, duration, effort)
        SELECT (r.seq - 1) * {PER_RESOURCE} + k.seq + 1,
               CONCAT('E', r.seq, '.', k.seq),
               TIMESTAMP('2024-01-01 08:00:00') + INTERVAL (30 * k.seq + r.seq MOD 23) DAY,
               TIMESTAMP('2024-01-01 08:00:00')
                   + INTERVAL (30 * k.seq + r.seq MOD 23 + 1 + r.seq MOD 3) DAY,
               1 + r.seq MOD 3, 24 * (1 + r.seq MOD 3)
        FROM seq_1_to_{RESOURCES} r CROSS JOIN seq_0_to_{PER_RESOURCE - 1} k""",
    f"""INSERT INTO spl_assignments (id, event, resource)
        SELECT id, id, (id - 1) DIV {PER_RESOURCE} + 1 FROM spl_events""",
    f"""INSERT INTO spl_dependencies (id, from_event, to_event)
        SELECT id, id, id + 1 FROM spl_events
        WHERE ((id - 1) DIV {PER_RESOURCE}) MOD 10 = 0 AND (id - 1) MOD {PER_RESOURCE} < {PER_RESOURCE - 1}""",
    "INSERT INTO spl_options VALUES ('revision', 1)",
]


@pytest.fixture(scope="module")
def browser(env):
    b = Browser(os.path.join(env.state_dir, "schedulerpro-lazy-driver.log"), DRIVER)
    yield b
    b.close()


def parse_time(v: str) -> datetime.datetime:
    """An ISO instant with Z or an offset, as naive UTC."""
    t = datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
    if t.tzinfo is not None:
        t = t.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return t


def iso(v):
    return None if v is None else v.strftime("%Y-%m-%dT%H:%M:%SZ")


def package_of(request) -> dict:
    """The JSON package of a captured load: from the URL's data= (a GET) or the body."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request["url"]).query)
    if "data" in query:
        return json.loads(query["data"][0])
    return json.loads(request["body"])


class TestSchedulerProLazy:
    CONF = page_test_conf() + CONF_LAZY

    @classmethod
    def prepare_class(cls, env, httpd, db):
        for t in TABLES:
            db.execute(f"DROP TABLE IF EXISTS `{t}`")
        for sql in DDL + FILL:
            db.execute(sql)
        assert db.scalar("SELECT COUNT(*) FROM spl_events") == EVENTS
        target = os.path.join(httpd.root, "htdocs", "schedulerpro")
        os.makedirs(target, exist_ok=True)
        os.chmod(target, 0o755)
        for name in os.listdir(PAGE_DIR):
            shutil.copy(os.path.join(PAGE_DIR, name), target)
            os.chmod(os.path.join(target, name), 0o644)

    @classmethod
    def cleanup_class(cls, db):
        for t in TABLES:
            db.execute(f"DROP TABLE IF EXISTS `{t}`")

    def log_statements(self):
        """MariaDB's general log on, from now until load_requests reads it (the module's
        statements: it quotes the tables' names, this test does not)."""
        self.env.tbctl("db-sql", input="SET GLOBAL log_output = 'TABLE'; "
                                       "TRUNCATE mysql.general_log; SET GLOBAL general_log = 1;")

    def logged_statements(self) -> list:
        self.env.tbctl("db-sql", input="SET GLOBAL general_log = 0;")
        out = self.env.tbctl("db-sql", "-N", "-B", "--raw", input=(
            "SELECT REPLACE(argument, '\\n', ' ') FROM mysql.general_log "
            "WHERE command_type IN ('Query', 'Execute') AND argument LIKE 'SELECT%`spl\\_%' "
            "ORDER BY event_time;")).stdout
        return [line for line in out.splitlines() if line.strip()]

    def load_requests(self, browser, step):
        """The load requests of a step, each checked against the tables, with its figures."""
        done = []
        for r in browser.call("requests", page="l")["requests"]:
            if "/sync" in r["url"]:
                # the project's span follows the events loaded (its startDate, endDate and
                # duration): 7.3.2 syncs it, the location has no project and ignores it
                package = json.loads(r["body"])
                assert set(package) <= {"type", "requestId", "revision", "project"}, (
                    json.dumps(package.get("events"))[:600], json.dumps(package.get("assignments"))[:300])
                assert r["status"] == 200 and json.loads(r["answer"])["success"] is True, r
                self.project_syncs.append(package["project"])
                continue
            # 7.3.2 sends its load as a GET with the package in data=, "params" in the package
            assert r["method"] == "GET" and r["status"] == 200, r
            package = package_of(r)
            answer = json.loads(r["answer"])
            assert answer["success"] is True and answer["requestId"] == package["requestId"]
            done.append(self.check_window(step, r, package, answer))
        assert done, f"{step}: no load request"
        statements = self.logged_statements()
        # one per store asked for that the location serves, the resources' count and the
        # revision (test_790_lazy_load.py EXPLAINs them: each reads through an index)
        self.steps.append({"step": step, "requests": done, "statements": len(statements),
                           "statement_texts": statements})
        return done

    def check_window(self, step, request, package, answer) -> dict:
        """The answer holds exactly the rows the package's params pick (docs/protocol.md,
        "Lazy loading"), computed here from the tables."""
        db, params, stores = self.db, package["params"], package["stores"]
        figures = {"url": request["url"], "package": package, "bytes": len(request["answer"]),
                   "rows": {k: len(v["rows"]) for k, v in answer.items()
                            if isinstance(v, dict) and "rows" in v}}
        first, count = params["startIndex"], params["count"]
        if "resources" in stores:
            expected = [r[0] for r in db.query(
                "SELECT id FROM spl_resources ORDER BY id LIMIT %s OFFSET %s", (count, first))]
            assert [r["id"] for r in answer["resources"]["rows"]] == expected, step
            assert answer["resources"]["total"] == RESOURCES
        else:
            assert "resources" not in answer, step
        start, end = parse_time(params["startDate"]), parse_time(params["endDate"])
        events = {r[0]: r[1:] for r in db.query(
            "SELECT id, name, start_date, end_date FROM spl_events "
            "WHERE start_date < %s AND end_date >= %s", (end, start))}
        assert "events" in stores, package
        got = {r["id"]: r for r in answer["events"]["rows"]}
        assert set(got) == set(events), (step, len(got), len(events))
        for i, row in got.items():
            assert (row["name"], row["startDate"], row["endDate"]) == (
                events[i][0], iso(events[i][1]), iso(events[i][2])), row
        if "assignments" in stores:
            expected = {r[0] for r in db.query(
                "SELECT id FROM spl_assignments WHERE event IN (SELECT id FROM spl_events "
                "WHERE start_date < %s AND end_date >= %s)", (end, start))}
            assert {r["id"] for r in answer["assignments"]["rows"]} == expected, step
        if "dependencies" in stores:
            # not lazy: 7.3.2 asks for dependencies in its first load only, so all of them
            assert len(answer["dependencies"]["rows"]) == db.scalar(
                "SELECT COUNT(*) FROM spl_dependencies")
        # what the window of resources needs of them (Bryntum's guide: the events of the
        # resources asked for, in the dates asked for)
        figures["events_of_the_resources"] = db.scalar(
            "SELECT COUNT(*) FROM spl_events e JOIN spl_assignments a ON a.event = e.id "
            "WHERE e.start_date < %s AND e.end_date >= %s AND a.resource IN "
            "(SELECT id FROM (SELECT id FROM spl_resources ORDER BY id LIMIT %s OFFSET %s) w)",
            (end, start, count, first))
        return figures

    def check_page(self, browser, step, first_row=1):
        """The rows in view show the database's resources from first_row on, and the bars in the
        visible time span of those rows are the database's events assigned to them there.  The
        grid draws what a load brought once its engine has taken it in: up to 45 s."""
        deadline = time.monotonic() + 45
        while True:
            try:
                return self.compare_page(browser, step, first_row)
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.25)

    def compare_page(self, browser, step, first_row):
        db = self.db
        w = browser.call("window", page="l")["window"]
        # "unsaved" once the engine changed something it loaded (recorded below)
        assert w["status"] in ("saved", "unsaved") and not w["message"], w["message"]
        rows = {int(r["id"]): r["name"] for r in w["rows"]}
        assert len(rows) >= 10 and first_row <= min(rows) <= first_row + 5, (w["scrollTop"], w["rows"])
        names = {r[0]: r[1] for r in db.query(
            "SELECT id, name FROM spl_resources WHERE id BETWEEN %s AND %s",
            (min(rows), max(rows)))}
        assert rows == {i: names[i] for i in rows}, step
        start, end = parse_time(w["visibleStart"]), parse_time(w["visibleEnd"])
        placeholders = ", ".join(["%s"] * len(rows))
        expected = {(str(r[0]), str(r[1])): (r[2], iso(r[3]), iso(r[4])) for r in db.query(
            "SELECT e.id, a.resource, e.name, e.start_date, e.end_date FROM spl_events e "
            "JOIN spl_assignments a ON a.event = e.id "
            f"WHERE a.resource IN ({placeholders}) AND e.start_date < %s AND e.end_date > %s",
            (*rows, end, start))}
        shown = {(b["event"], b["resource"]): (b["text"], b["startDate"], b["endDate"])
                 for b in w["bars"] if int(b["resource"]) in rows
                 and parse_time(b["startDate"]) < end and parse_time(b["endDate"]) > start}
        assert expected, (step, w["visibleStart"], w["visibleEnd"], sorted(rows))
        # An event the engine moved (a dependency's successor; unsaved under ?lazy=1) has dates
        # the database does not: it may enter or leave the visible span, whenever the engine
        # gets to it.  The others are compared.
        moved = set(w.get("moved") or ())
        shown = {k: v for k, v in shown.items() if k[0] not in moved}
        expected = {k: v for k, v in expected.items() if k[0] not in moved}
        assert shown == expected, (step, sorted(set(shown) ^ set(expected))[:20],
                                   "events the page holds per row in view:", w.get("held"),
                                   "stores:", w.get("stores"), "bars drawn:", len(w["bars"]),
                                   "moved by the engine:", len(moved))
        self.shown.append({"step": step, "rows": f"{min(rows)}..{max(rows)}",
                           "visible": [w["visibleStart"], w["visibleEnd"]],
                           "bars": len(shown), "stores": w["stores"],
                           "unsaved_engine_changes": w["changes"]})
        return w

    def test_tb_781_01(self, env, httpd, db, browser):
        self.db, self.env = db, env
        self.steps, self.shown, self.project_syncs = [], [], []
        try:
            self.run_steps(env, httpd, browser)
        finally:
            self.record(env, browser)
            browser.call("closePage", page="l")

    def run_steps(self, env, httpd, browser):
        # nine weeks on the time axis, about two and a half of them visible
        url = httpd.url("/schedulerpro/?lazy=1&api=/splazy/api&start=2024-03-04&end=2024-05-06")
        self.log_statements()
        view = browser.call("open", page="l", url=url, timezone=TIMEZONE)["view"]
        assert view["loads"] >= 1, view
        browser.call("settle", page="l")
        first = self.load_requests(browser, "first load")
        assert len(first) == 1, first
        stores = first[0]["package"]["stores"]
        assert {"resources", "events", "assignments", "dependencies"} <= set(stores), stores
        self.check_page(browser, "first load")

        # the resource grid scrolled far down with the mouse wheel, to the 3001st row
        self.log_statements()
        browser.call("wheel", page="l", dy=3000 * ROW_HEIGHT)
        for r in self.load_requests(browser, "scrolled down"):
            params = r["package"]["params"]
            assert params["startIndex"] <= 3000 <= params["startIndex"] + params["count"], params
            assert "dependencies" not in r["package"]["stores"], r["package"]
        self.check_page(browser, "scrolled down", first_row=3001)

        # the time axis scrolled to its end, weeks later
        self.log_statements()
        browser.call("settle", page="l", script="""
            await window.scheduler.scrollToDate(new Date(2024, 4, 5), {block: 'end'});""")
        self.load_requests(browser, "time axis scrolled")
        self.check_page(browser, "time axis scrolled", first_row=3001)

        # and another time span: the next nine weeks, as an application's "next" button does
        self.log_statements()
        browser.call("settle", page="l", script="""
            window.scheduler.setTimeSpan(new Date(2024, 4, 6), new Date(2024, 6, 8));""")
        for r in self.load_requests(browser, "next weeks"):
            assert parse_time(r["package"]["params"]["endDate"]) > datetime.datetime(2024, 5, 6)
        self.check_page(browser, "next weeks", first_row=3001)

        shots = os.path.join(env.state_dir, "browser")
        os.makedirs(shots, exist_ok=True)
        path = browser.call("screenshot", page="l",
                            path=os.path.join(shots, "schedulerpro-lazy.png"))["path"]
        tbtest.ARTIFACTS.append(("screenshot of Scheduler Pro 7.3.2, lazy loading", path))
        print(f"screenshot: {path}")
        # the trial build checks its license at bryntum.com, which this machine cannot reach
        problems = browser.call("view", page="l")["problems"]
        if any("bryntum.com/verify" in p for p in problems):
            problems = [p for p in problems if "bryntum.com/verify" not in p
                        and p != "console: Failed to load resource: net::ERR_NAME_NOT_RESOLVED"]
        assert problems == [], "\n".join(problems)

    def record(self, env, browser):
        shots = os.path.join(env.state_dir, "browser")
        os.makedirs(shots, exist_ok=True)
        path = os.path.join(shots, "schedulerpro-lazy-requests.json")
        with open(path, "w") as f:
            json.dump({"requests": self.steps, "shown": self.shown,
                       "project_syncs": self.project_syncs}, f, indent=1)
        tbtest.ARTIFACTS.append(("lazy load requests of Scheduler Pro 7.3.2", path))
        print(f"requests: {path}")
        for step in self.steps:
            for r in step["requests"]:
                print(f"[{step['step']}] stores={r['package']['stores']} "
                      f"params={json.dumps(r['package']['params'])}")
                print(f"    -> {r['bytes']} bytes, rows {r['rows']}, events of the resources "
                      f"asked for {r['events_of_the_resources']}")
            print(f"    statements of the step ({len(step['requests'])} loads): "
                  f"{step['statements']}")
            for sql in step["statement_texts"]:
                print(f"      {sql[:300]}")
        for s in self.shown:
            print(f"[{s['step']}] shown: rows {s['rows']}, visible {s['visible']}, "
                  f"{s['bars']} bars, stores {s['stores']}, "
                  f"the engine's unsaved changes {s['unsaved_engine_changes']}")
