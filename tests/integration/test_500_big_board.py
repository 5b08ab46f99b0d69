"""A board of 10,000 tasks, 200 resources and 20,000 assignments, in tables of its own (big_*), served
at /big next to the sample board at /api.  Every row must arrive, identical to the database."""

import concurrent.futures
import datetime
import decimal
import glob
import json
import os
import random
import tempfile
import urllib.parse

import boards
import tbtest
from tbtest import check_load, json_body

N_TASKS = 10000
N_RESOURCES = 200
TABLES = ["tasks", "resources", "assignments", "columns", "swimlanes", "options"]


def q_data(package: dict) -> str:
    return "data=" + urllib.parse.quote(json.dumps(package), safe="")


def make_big_board(db):
    """Creates big_* tables shaped like the sample ones and fills them (deterministic)."""
    rnd = random.Random(20240530)
    for t in TABLES:
        db.execute(f"DROP TABLE IF EXISTS big_{t}")
        db.execute(f"CREATE TABLE big_{t} LIKE `{t}`")
    names = ["Plain task", "Größe 日本 😀", 'Quote " and \\ backslash', "Tab\there",
             "Line\nbreak", "", "x" * 255]
    tasks = []
    base = datetime.datetime(2020, 1, 1)
    for i in range(1, N_TASKS + 1):
        maybe = lambda v, p=0.2: None if rnd.random() < p else v  # noqa: E731
        tasks.append((
            i,
            f"{rnd.choice(names)} #{i}"[:255],
            maybe("Description " * rnd.randint(0, 12) + f"of {i} — ünïcödé"),
            rnd.choice(["todo", "doing", "review", "done"]),
            maybe(rnd.choice(["high", "medium", "low"])),
            maybe(rnd.randint(0, 300), 0.05),                 # many ties: ordered by id then
            maybe((base + datetime.timedelta(days=rnd.randint(0, 3000))).date()),
            maybe(base + datetime.timedelta(seconds=rnd.randint(0, 10 ** 8))),
            maybe(rnd.choice(["red", "green", "blue", "#a0b1c2"]), 0.6),
            rnd.randint(0, 1),
            maybe(rnd.randint(1, i - 1) if i > 1 else None, 0.7),
            maybe(json.dumps({"n": i, "tags": rnd.sample(["a", "b", "c", "d"], 2),
                              "ratio": rnd.randint(0, 100) / 4, "ok": rnd.random() < 0.5},
                             ensure_ascii=False), 0.5),
        ))
    db.executemany(
        "INSERT INTO big_tasks (id, name, description, status, prio, weight, deadline, "
        "start_date, event_color, read_only, parent_id, meta) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", tasks)
    resources = []
    for i in range(1, N_RESOURCES + 1):
        resources.append((i, rnd.choice(["Angelo", "Celia", "Dave", "Émilie", "李雷"]),
                          f"user{i}@example.com" if i % 10 else None,
                          f"u{i}.png", rnd.choice(["Developer", "QA", None]), rnd.randint(0, 1)))
    db.executemany("INSERT INTO big_resources (id, name, email, image, role, active) "
                   "VALUES (%s, %s, %s, %s, %s, %s)", resources)
    assignments = []
    for i in range(1, N_TASKS + 1):
        r1 = i % N_RESOURCES + 1
        r2 = (i + N_RESOURCES // 2) % N_RESOURCES + 1
        for r in (r1, r2):
            assignments.append((len(assignments) + 1, i, r,
                                rnd.choice([decimal.Decimal("100.00"), decimal.Decimal("50.00"),
                                            decimal.Decimal("12.50"), decimal.Decimal("0.25"),
                                            None])))
    db.executemany("INSERT INTO big_assignments (id, event, resource, units) "
                   "VALUES (%s, %s, %s, %s)", assignments)
    for t in ("columns", "swimlanes"):
        db.execute(f"INSERT INTO big_{t} SELECT * FROM `{t}`")
    db.execute("INSERT INTO big_options (name, value) VALUES ('revision', 777)")


class TestBigBoard:

    # The whole big board (3.9 MB) is larger than the largest answer the load cache keeps here, so
    # it is spooled to a temporary file as it is read; its pages and the small board are cached.
    CONF = (boards.board_conf("/api") + boards.board_conf("/big", table_prefix="big_")
            + "TaskBoardLoadCacheSize 33554432 1048576\n")
    # the checks compare with the big board, and with the small one where they say so
    BOARD = boards.board_conf("/big", table_prefix="big_")
    sample = tbtest.parse_board(boards.board_conf("/api"))

    @classmethod
    def prepare_class(cls, db):
        make_big_board(db)
        assert db.count("big_tasks") == N_TASKS
        assert db.count("big_assignments") == 2 * N_TASKS

    @classmethod
    def cleanup_class(cls, db):
        for t in TABLES:
            db.execute(f"DROP TABLE IF EXISTS big_{t}")

    def test_tb_500_01(self, httpd, db):
        # the whole board in one load: every row of every store equals the database
        r = httpd.get("/big/load?" + q_data({"type": "load", "requestId": 500}))
        body = check_load(r, self.board, db, request_id=500)
        assert body["revision"] == 777
        assert body["tasks"]["total"] == N_TASKS and len(body["tasks"]["rows"]) == N_TASKS
        assert body["assignments"]["total"] == 2 * N_TASKS
        assert len({x["id"] for x in body["tasks"]["rows"]}) == N_TASKS
        # docs/protocol.md: an answer larger than the cache keeps is read whole into a spool file before
        # it is sent (so it has a Content-Length), and that file is unlinked at once.
        assert r.headers.get("Content-Length") == str(len(r.content)), dict(r.headers)
        assert not glob.glob(os.path.join(tempfile.gettempdir(), "mod_taskboard-*"))

    def test_tb_500_02(self, httpd, db):
        # the same board by POST, and pages deep inside it
        r = httpd.post("/big/load", json={"type": "load", "requestId": 501,
                                          "stores": ["tasks", "assignments"]})
        check_load(r, self.board, db, stores=["tasks", "assignments"], request_id=501)
        for page, size in ((37, 100), (1, N_TASKS), (3, 4999), (1001, 10)):
            r = httpd.get("/big/load?" + q_data({
                "type": "load", "stores": [{"storeId": "tasks", "page": page, "pageSize": size}]}))
            check_load(r, self.board, db, stores=["tasks"], pages={"tasks": (page, size)})

    def test_tb_500_03(self, httpd, db):
        # concurrent loads of the whole board all get the same, complete answer
        def load(i):
            r = httpd.get("/big/load?" + q_data({"type": "load", "requestId": 600 + i}))
            assert r.status_code == 200, tbtest.describe(r)
            body = json_body(r)
            assert body["requestId"] == 600 + i
            del body["requestId"]
            return body
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as ex:
            bodies = list(ex.map(load, range(6)))
        first = bodies[0]
        for b in bodies[1:]:
            assert b == first
        r = httpd.get("/big/load?" + q_data({"type": "load", "requestId": 700}))
        check_load(r, self.board, db, request_id=700)

    def test_tb_500_04(self, httpd, db):
        # the sample board at /api, with the same store ids, is not mixed up with the big one
        check_load(httpd.get("/api/load"), self.sample, db)
        assert db.count("tasks") == 5

    def test_tb_500_05(self, httpd, db):
        # more concurrent loads than one child's pool has connections (DBDMax 10): they wait
        # for a connection and all get the full answer
        def load(i):
            r = httpd.get("/api/load?" + q_data({"type": "load", "requestId": i}))
            assert r.status_code == 200, tbtest.describe(r)
            body = json_body(r)
            assert body["requestId"] == i
            del body["requestId"]
            return body
        with concurrent.futures.ThreadPoolExecutor(max_workers=40) as ex:
            bodies = list(ex.map(load, range(200)))
        assert all(b == bodies[0] for b in bodies)
        check_load(httpd.get("/api/load"), self.sample, db)
