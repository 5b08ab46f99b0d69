"""Lazy loading (issue 16, point 5): a Scheduler or Scheduler Pro 6+ client with `lazyLoad: true`
sends "params" in its load package, and each store declared with TaskBoardLazyLoad answers only
the rows they pick (docs/protocol.md, "Lazy loading"):

- resources (`TaskBoardLazyLoad rows`): params.startIndex/count is a window of rows in the
  store's order, with `total` the whole store's count; params.resourceIds lists the rows;
- events (`TaskBoardLazyLoad span startDate endDate`): the rows whose span overlaps
  [startDate, endDate), the end exclusive;
- assignments and dependencies (references= to events, `TaskBoardLazyLoad follow`): the rows that
  point into that window; a store that points at the events without it is loaded whole.

Every answer is compared with the rows computed here from the tables, never with fixed lists;
the statements the module ran are taken from MariaDB's general log and EXPLAINed, to show that
each reads through an index.
"""

import datetime
import json
import random
import urllib.parse

import pytest

from tbtest import check_error, describe, json_body

CONF = """\
<Location /ll>
    TaskBoardRevision ll_options value name=revision
    <TaskBoardStore resources>
        TaskBoardTable ll_resources
        TaskBoardOrder name id
        TaskBoardField name string
        TaskBoardLazyLoad rows
    </TaskBoardStore>
    <TaskBoardStore events>
        TaskBoardTable ll_events
        TaskBoardField name      string
        TaskBoardField startDate datetime column=start_date
        TaskBoardField endDate   datetime column=end_date
        TaskBoardLazyLoad span startDate endDate maxdays=30
    </TaskBoardStore>
    <TaskBoardStore assignments>
        TaskBoardTable ll_assignments
        TaskBoardField eventId    int column=event    references=events
        TaskBoardField resourceId int column=resource references=resources
        TaskBoardLazyLoad follow
    </TaskBoardStore>
    <TaskBoardStore dependencies>
        TaskBoardTable ll_dependencies
        TaskBoardField fromEvent int column=from_event references=events
        TaskBoardField toEvent   int column=to_event   references=events
        TaskBoardLazyLoad follow
    </TaskBoardStore>
    # points at the events too, but does not follow their window: always whole
    <TaskBoardStore notes>
        TaskBoardTable ll_notes
        TaskBoardField eventId int column=event references=events
    </TaskBoardStore>
</Location>
<Location /ll/load>
    SetHandler taskboard-load
</Location>
"""

TABLES = ("ll_notes", "ll_dependencies", "ll_assignments", "ll_events", "ll_resources",
          "ll_options")
CHARSET = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"
DDL = [
    f"CREATE TABLE ll_options (name VARCHAR(50) PRIMARY KEY, value BIGINT NOT NULL) {CHARSET}",
    f"""CREATE TABLE ll_resources (id INT AUTO_INCREMENT PRIMARY KEY,
        name VARCHAR(100) NOT NULL, KEY idx_name (name)) {CHARSET}""",
    f"""CREATE TABLE ll_events (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL,
        start_date DATETIME NULL, end_date DATETIME NULL,
        KEY idx_start (start_date), KEY idx_end (end_date)) {CHARSET}""",
    f"""CREATE TABLE ll_assignments (id INT AUTO_INCREMENT PRIMARY KEY, event INT NOT NULL,
        resource INT NOT NULL, KEY idx_event (event), KEY idx_resource (resource)) {CHARSET}""",
    f"""CREATE TABLE ll_dependencies (id INT AUTO_INCREMENT PRIMARY KEY,
        from_event INT NOT NULL, to_event INT NOT NULL,
        KEY idx_from (from_event), KEY idx_to (to_event)) {CHARSET}""",
    f"""CREATE TABLE ll_notes (id INT AUTO_INCREMENT PRIMARY KEY, event INT NOT NULL) {CHARSET}""",
]

RESOURCES = 300
EVENTS = 3000
YEAR = datetime.datetime(2024, 1, 1)


def load(httpd, stores, params, request_id=1):
    package = {"type": "load", "requestId": request_id, "stores": stores}
    if params is not None:
        package["params"] = params
    text = json.dumps(package)
    if len(text) > 2000:        # as a client configured to POST its load (GET has a URL limit)
        return httpd.request("POST", "/ll/load", data=text,
                             headers={"Content-Type": "application/json"})
    return httpd.get("/ll/load?data=" + urllib.parse.quote(text))


def ok(resp):
    assert resp.status_code == 200, describe(resp)
    body = json_body(resp)
    assert body["success"] is True, describe(resp)
    return body


def iso(d: datetime.datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def ids(section) -> list:
    return [row["id"] for row in section["rows"]]


class TestLazyLoad:
    CONF = CONF

    @classmethod
    def prepare_class(cls, db):
        for t in TABLES:
            db.execute(f"DROP TABLE IF EXISTS `{t}`")
        for sql in DDL:
            db.execute(sql)
        rnd = random.Random(16)
        db.execute("INSERT INTO ll_options VALUES ('revision', 1)")
        # names repeat, so that the order (name, then id) is not the id order
        db.executemany("INSERT INTO ll_resources (name) VALUES (%s)",
                       [(f"r{rnd.randrange(100):03d}",) for _ in range(RESOURCES)])
        events = []
        for i in range(EVENTS):
            start = YEAR + datetime.timedelta(hours=rnd.randrange(366 * 24))
            kind = rnd.random()
            if kind < 0.05:
                end = start                                 # a milestone
            elif kind < 0.08:
                end = None                                  # not scheduled: in no window
            else:
                end = start + datetime.timedelta(hours=rnd.randrange(1, 24 * 20))
            events.append((f"e{i}", start, end))
        # the edges of the window tested below, 2024-03-04 to 2024-03-11
        w0, w1 = datetime.datetime(2024, 3, 4), datetime.datetime(2024, 3, 11)
        events += [("starts-at-end", w1, w1 + datetime.timedelta(hours=2)),
                   ("ends-at-start", w0 - datetime.timedelta(hours=2), w0),
                   ("milestone-at-start", w0, w0),
                   ("spans-all", w0 - datetime.timedelta(days=3), w1 + datetime.timedelta(days=3))]
        db.executemany("INSERT INTO ll_events (name, start_date, end_date) VALUES (%s, %s, %s)",
                       events)
        nevents = len(events)
        db.executemany("INSERT INTO ll_assignments (event, resource) VALUES (%s, %s)",
                       [(1 + i % nevents, 1 + rnd.randrange(RESOURCES))
                        for i in range(nevents + 500)])
        db.executemany("INSERT INTO ll_dependencies (from_event, to_event) VALUES (%s, %s)",
                       [(1 + rnd.randrange(nevents), 1 + rnd.randrange(nevents))
                        for _ in range(1500)])
        db.executemany("INSERT INTO ll_notes (event) VALUES (%s)",
                       [(1 + rnd.randrange(nevents),) for _ in range(40)])
        db.execute("ANALYZE TABLE ll_resources, ll_events, ll_assignments, ll_dependencies")

    @classmethod
    def cleanup_class(cls, db):
        for t in TABLES:
            db.execute(f"DROP TABLE IF EXISTS `{t}`")

    # -- what the answers must be, from the tables

    @staticmethod
    def resources_in_order(db):
        return [r[0] for r in db.query("SELECT id FROM ll_resources ORDER BY name, id")]

    @staticmethod
    def events_in(db, start: datetime.datetime, end: datetime.datetime):
        """Overlap with [start, end): begins before its end, ends at or after its start."""
        rows = db.query("SELECT id, start_date, end_date FROM ll_events ORDER BY id")
        return [i for i, s, e in rows if s is not None and e is not None and s < end and e >= start]

    @staticmethod
    def pointing_into(db, table, columns, events):
        wanted = set(events)
        rows = db.query(f"SELECT id, {', '.join(columns)} FROM {table} ORDER BY id")
        return [r[0] for r in rows if any(v in wanted for v in r[1:])]

    # -- the tests

    def test_tb_790_01(self, httpd, db):
        # a window of resources: startIndex/count in the store's order, total of the whole store
        order = self.resources_in_order(db)
        for start, count in ((0, 50), (40, 25), (RESOURCES - 10, 100), (RESOURCES + 5, 10)):
            body = ok(load(httpd, ["resources"], {"startIndex": start, "count": count}))
            assert ids(body["resources"]) == order[start:start + count], (start, count)
            assert body["resources"]["total"] == RESOURCES
            assert set(body) == {"success", "type", "requestId", "revision", "resources"}

    def test_tb_790_02(self, httpd, db):
        # resourceIds: those rows, in the store's order; unknown ids are simply not there
        order = self.resources_in_order(db)
        wanted = [order[7], order[150], order[3], 99999]
        body = ok(load(httpd, ["resources"], {"resourceIds": wanted}))
        assert ids(body["resources"]) == [i for i in order if i in wanted]

    def test_tb_790_03(self, httpd, db):
        # events overlapping [startDate, endDate): the one starting at endDate is out, the one
        # ending at startDate and the milestone on it are in, unscheduled ones are in no window
        w0, w1 = datetime.datetime(2024, 3, 4), datetime.datetime(2024, 3, 11)
        body = ok(load(httpd, ["events"], {"startIndex": 0, "count": 50,
                                          "startDate": iso(w0), "endDate": iso(w1)}))
        want = self.events_in(db, w0, w1)
        assert ids(body["events"]) == want
        assert body["events"]["total"] == len(want)
        names = {row["name"] for row in body["events"]["rows"]}
        assert {"ends-at-start", "milestone-at-start", "spans-all"} <= names
        assert "starts-at-end" not in names
        assert 0 < len(want) < EVENTS / 10

    def test_tb_790_04(self, httpd, db):
        # a browser in Stockholm sends its local time with the offset: the same instants
        body_utc = ok(load(httpd, ["events"], {"startDate": "2024-05-01T00:00:00Z",
                                              "endDate": "2024-05-05T00:00:00.000Z"}))
        body_cet = ok(load(httpd, ["events"], {"startDate": "2024-05-01T02:00:00+02:00",
                                              "endDate": "2024-05-05T02:00:00+02:00"}))
        assert ids(body_utc["events"]) == ids(body_cet["events"])
        assert ids(body_utc["events"]) == self.events_in(
            db, datetime.datetime(2024, 5, 1), datetime.datetime(2024, 5, 5))

    def test_tb_790_05(self, httpd, db):
        # the whole first request of a lazy Scheduler Pro: each store gets its window, the
        # assignments and dependencies those of the events in it, the rest of the stores as asked
        w0, w1 = datetime.datetime(2024, 7, 1), datetime.datetime(2024, 7, 15)
        params = {"startIndex": 0, "count": 100, "startDate": iso(w0), "endDate": iso(w1)}
        body = ok(load(httpd, ["calendars", "events", "resources", "assignments",
                               "dependencies", "timeRanges", "resourceTimeRanges"], params))
        events = self.events_in(db, w0, w1)
        assert ids(body["events"]) == events
        assert ids(body["resources"]) == self.resources_in_order(db)[:100]
        assert ids(body["assignments"]) == self.pointing_into(db, "ll_assignments", ["event"],
                                                              events)
        assert ids(body["dependencies"]) == self.pointing_into(
            db, "ll_dependencies", ["from_event", "to_event"], events)
        # a dependency between two events of the window comes once
        assert len(set(ids(body["dependencies"]))) == len(body["dependencies"]["rows"])
        for row in body["assignments"]["rows"]:
            assert row["eventId"] in events
        # a store that points at the events without TaskBoardLazyLoad follow is whole
        notes = ok(load(httpd, ["notes"], params))
        assert len(notes["notes"]["rows"]) == db.scalar("SELECT COUNT(*) FROM ll_notes")

    def test_tb_790_06(self, httpd, db):
        # without params, or with params for other stores, every store is whole as before
        body = ok(load(httpd, ["events", "resources"], None))
        assert len(body["events"]["rows"]) == db.scalar("SELECT COUNT(*) FROM ll_events")
        assert len(body["resources"]["rows"]) == RESOURCES
        body = ok(load(httpd, ["resources"], {"startDate": "2024-01-01T00:00:00Z",
                                             "endDate": "2024-01-02T00:00:00Z"}))
        assert len(body["resources"]["rows"]) == RESOURCES

    def test_tb_790_07(self, httpd, db):
        # the load cache keeps each window apart: the same revision, other params, other rows
        order = self.resources_in_order(db)
        for _ in range(2):
            for start in (0, 10, 20):
                body = ok(load(httpd, ["resources"], {"startIndex": start, "count": 10}))
                assert ids(body["resources"]) == order[start:start + 10]
            for month in (2, 9):
                w0, w1 = datetime.datetime(2024, month, 1), datetime.datetime(2024, month, 8)
                body = ok(load(httpd, ["events"], {"startDate": iso(w0), "endDate": iso(w1)}))
                assert ids(body["events"]) == self.events_in(db, w0, w1)
            body = ok(load(httpd, ["resources"], {"resourceIds": order[:3]}))
            assert ids(body["resources"]) == order[:3]

    @pytest.mark.parametrize("params", [
        {"startIndex": 0},
        {"count": 10},
        {"startIndex": -1, "count": 10},
        {"startIndex": 0, "count": 0},
        {"startIndex": "0", "count": 10},
        {"startDate": "2024-01-01T00:00:00Z"},
        {"startDate": "yesterday", "endDate": "2024-01-02T00:00:00Z"},
        {"resourceIds": [1, {"id": 2}]},
        {"resourceIds": list(range(1001))},
        {"resourceIds": "1,2"},
        [1, 2],
    ], ids=["start-alone", "count-alone", "negative", "count-zero", "start-string",
            "start-date-alone", "bad-date", "id-object", "too-many-ids", "ids-string",
            "not-an-object"])
    def test_tb_790_08(self, httpd, params):
        # params that cannot be served are a 400 naming the parameter
        body = check_error(load(httpd, ["resources", "events"], params, request_id=8), 400,
                           request_id=8)
        assert "params" in body["message"]

    def test_tb_790_09(self, env, httpd, db):
        # each statement a lazy load runs reads through an index: the statements are taken from
        # the general log as the server ran them (values in place) and EXPLAINed
        w0, w1 = datetime.datetime(2024, 10, 7), datetime.datetime(2024, 10, 14)
        params = {"startIndex": 100, "count": 50, "startDate": iso(w0), "endDate": iso(w1)}
        env.tbctl("db-sql", input="SET GLOBAL log_output = 'TABLE'; "
                                  "TRUNCATE mysql.general_log; SET GLOBAL general_log = 1;")
        try:
            ok(load(httpd, ["events", "resources", "assignments", "dependencies"], params,
                    request_id=9))
        finally:
            env.tbctl("db-sql", input="SET GLOBAL general_log = 0;")
        out = env.tbctl("db-sql", "-N", "-B", "--raw", input=(
            "SELECT REPLACE(argument, '\\n', ' ') FROM mysql.general_log "
            "WHERE command_type IN ('Query', 'Execute') AND argument LIKE 'SELECT%ll\\_%' "
            "ORDER BY event_time;")).stdout
        ran = [line for line in out.splitlines() if line.strip()]
        selects = [s for s in ran if "ll_options" not in s]
        # one statement per store, and the count of the resources' total
        assert len(selects) == 5, ran
        for sql in selects:
            # MariaDB's EXPLAIN: id, select_type, table, type, possible_keys, key, ...
            # MariaDB logs the values of an executed statement only when the general log was
            # on when it was prepared: the others show their placeholders, put back here
            sql = (sql.replace("LIMIT ? OFFSET ?", "LIMIT 50 OFFSET 100")
                   .replace("< ?", f"< '{w1}'").replace(">= ?", f">= '{w0}'"))
            assert "?" not in sql, sql
            plan = db.query("EXPLAIN " + sql)
            print(sql, *(r[:6] for r in plan), sep="\n  ")     # shown with pytest -s
            for row in plan:
                if row[2] and row[2].startswith("ll_"):
                    assert row[3] != "ALL" and row[5] is not None, (
                        sql + "\n" + "\n".join(str(r[:6]) for r in plan))


SCOPED_CONF = """\
<Location /lb>
    TaskBoardScope board_id param=board int
    TaskBoardRevision lb_boards revision id
    <TaskBoardStore resources>
        TaskBoardTable lb_resources
        TaskBoardField name string
        TaskBoardLazyLoad rows
    </TaskBoardStore>
    <TaskBoardStore events>
        TaskBoardTable lb_events
        TaskBoardField startDate datetime column=start_date
        TaskBoardField endDate   datetime column=end_date
        TaskBoardLazyLoad span startDate endDate
    </TaskBoardStore>
    <TaskBoardStore dependencies>
        TaskBoardTable lb_dependencies
        TaskBoardField from int column=from_event references=events
        TaskBoardField to   int column=to_event   references=events
        TaskBoardLazyLoad follow
    </TaskBoardStore>
</Location>
<Location /lb/load>
    SetHandler taskboard-load
</Location>
"""
SCOPED_TABLES = ("lb_dependencies", "lb_events", "lb_resources", "lb_boards")


class TestLazyLoadBoards:
    """The same under TaskBoardScope: every window is the board's own, the board bound in each
    statement where it belongs (without maxdays= here: the other placeholder layout)."""
    CONF = SCOPED_CONF

    @classmethod
    def prepare_class(cls, db):
        for t in SCOPED_TABLES:
            db.execute(f"DROP TABLE IF EXISTS `{t}`")
        db.execute(f"CREATE TABLE lb_boards (id INT PRIMARY KEY, revision BIGINT NOT NULL) "
                   f"{CHARSET}")
        db.execute(f"""CREATE TABLE lb_resources (id INT AUTO_INCREMENT PRIMARY KEY,
            board_id INT NOT NULL, name VARCHAR(50) NOT NULL, KEY (board_id)) {CHARSET}""")
        db.execute(f"""CREATE TABLE lb_events (id INT AUTO_INCREMENT PRIMARY KEY,
            board_id INT NOT NULL, start_date DATETIME NULL, end_date DATETIME NULL,
            KEY (board_id, start_date), KEY (board_id, end_date)) {CHARSET}""")
        db.execute(f"""CREATE TABLE lb_dependencies (id INT AUTO_INCREMENT PRIMARY KEY,
            board_id INT NOT NULL, from_event INT NOT NULL, to_event INT NOT NULL,
            KEY (from_event), KEY (to_event)) {CHARSET}""")
        rnd = random.Random(7)
        db.execute("INSERT INTO lb_boards VALUES (1, 1), (2, 1)")
        db.executemany("INSERT INTO lb_resources (board_id, name) VALUES (%s, %s)",
                       [(1 + i % 2, f"r{i}") for i in range(60)])
        events = []
        for i in range(400):
            start = YEAR + datetime.timedelta(hours=rnd.randrange(60 * 24))
            events.append((1 + i % 2, start, start + datetime.timedelta(hours=rnd.randrange(48))))
        db.executemany("INSERT INTO lb_events (board_id, start_date, end_date) "
                       "VALUES (%s, %s, %s)", events)
        # dependencies within each board
        by_board = {1: [i + 1 for i in range(0, 400, 2)], 2: [i + 1 for i in range(1, 400, 2)]}
        db.executemany("INSERT INTO lb_dependencies (board_id, from_event, to_event) "
                       "VALUES (%s, %s, %s)",
                       [(b, rnd.choice(by_board[b]), rnd.choice(by_board[b]))
                        for b in (1, 2) for _ in range(150)])

    @classmethod
    def cleanup_class(cls, db):
        for t in SCOPED_TABLES:
            db.execute(f"DROP TABLE IF EXISTS `{t}`")

    def test_tb_790_20(self, httpd, db):
        w0, w1 = datetime.datetime(2024, 1, 20), datetime.datetime(2024, 1, 27)
        for board in (1, 2):
            package = {"type": "load", "stores": ["resources", "events", "dependencies"],
                       "params": {"startIndex": 5, "count": 10,
                                  "startDate": iso(w0), "endDate": iso(w1)}}
            body = ok(httpd.get(f"/lb/load?board={board}&data="
                                + urllib.parse.quote(json.dumps(package))))
            res = [r[0] for r in db.query(
                "SELECT id FROM lb_resources WHERE board_id = %s ORDER BY id", (board,))]
            assert ids(body["resources"]) == res[5:15]
            assert body["resources"]["total"] == len(res)
            events = [r[0] for r in db.query(
                "SELECT id FROM lb_events WHERE board_id = %s AND start_date < %s "
                "AND end_date >= %s ORDER BY id", (board, w1, w0))]
            assert events and ids(body["events"]) == events
            deps = [r[0] for r in db.query(
                "SELECT id, from_event, to_event FROM lb_dependencies WHERE board_id = %s "
                "ORDER BY id", (board,)) if r[1] in events or r[2] in events]
            assert deps and ids(body["dependencies"]) == deps
            listed = ok(httpd.get(f"/lb/load?board={board}&data=" + urllib.parse.quote(
                json.dumps({"type": "load", "stores": ["resources"],
                            "params": {"resourceIds": [1, 2, 3, 4]}}))))
            # the other board's ids are not this board's rows
            assert ids(listed["resources"]) == [i for i in (1, 2, 3, 4) if i in res]
