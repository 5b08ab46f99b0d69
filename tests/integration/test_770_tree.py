"""Tree stores (TaskBoardTree, docs/directives.md): the Gantt's task store loads as nested
`children`, siblings in `parentIndex` order, and the tree syncs the real Gantt 5.6.2 sent
(docs/protocol.md section 5, verbatim where the capture is whole) are applied in one transaction.

The tables are the test's own (tree_*): tasks with a parent (ON DELETE CASCADE) and a position,
dependencies and assignments that cascade with their task.  Every expected answer is computed from
the rows the database holds, never written out."""

import collections
import json
import os
import random
import time
import urllib.parse

import procfs
import tbtest
from tbtest import (Unchanged, board_state, check_sync, check_sync_error, check_sync_result,
                    jloads, state_diff, sync_post, value_matches)

TABLES = ("tree_assignments", "tree_dependencies", "tree_resources", "tree_tasks", "tree_options",
          "tree_big", "tree_big_options", "tree_journal", "tree_sboards", "tree_stasks")

SCHEMA = [
    """CREATE TABLE tree_options (name VARCHAR(50) PRIMARY KEY, value BIGINT NOT NULL)""",
    """CREATE TABLE tree_tasks (
        id INT AUTO_INCREMENT PRIMARY KEY,
        name VARCHAR(255) NOT NULL DEFAULT '',
        parent_id INT NULL,
        position INT NULL,
        expanded TINYINT(1) NOT NULL DEFAULT 0,
        start_date DATETIME NULL,
        end_date DATETIME NULL,
        duration DECIMAL(10,2) NULL,
        effort DECIMAL(10,2) NULL,
        KEY (parent_id),
        CONSTRAINT fk_tree_parent FOREIGN KEY (parent_id) REFERENCES tree_tasks (id)
            ON DELETE CASCADE) ENGINE=InnoDB""",
    """CREATE TABLE tree_resources (id INT AUTO_INCREMENT PRIMARY KEY,
        name VARCHAR(100) NOT NULL) ENGINE=InnoDB""",
    """CREATE TABLE tree_dependencies (
        id INT AUTO_INCREMENT PRIMARY KEY,
        from_task INT NOT NULL, to_task INT NOT NULL,
        type INT NOT NULL DEFAULT 2, lag DECIMAL(10,2) NOT NULL DEFAULT 0,
        CONSTRAINT fk_tree_dep_from FOREIGN KEY (from_task) REFERENCES tree_tasks (id)
            ON DELETE CASCADE,
        CONSTRAINT fk_tree_dep_to FOREIGN KEY (to_task) REFERENCES tree_tasks (id)
            ON DELETE CASCADE) ENGINE=InnoDB""",
    """CREATE TABLE tree_assignments (
        id INT AUTO_INCREMENT PRIMARY KEY,
        event INT NOT NULL, resource INT NOT NULL,
        units DECIMAL(10,2) NOT NULL DEFAULT 100,
        CONSTRAINT fk_tree_asg_event FOREIGN KEY (event) REFERENCES tree_tasks (id)
            ON DELETE CASCADE,
        CONSTRAINT fk_tree_asg_res FOREIGN KEY (resource) REFERENCES tree_resources (id)
            ON DELETE CASCADE) ENGINE=InnoDB""",
    # the 10,000-node tree: no foreign key, so that it can hold orphans
    """CREATE TABLE tree_big (
        id INT PRIMARY KEY, name VARCHAR(1000) NOT NULL, parent_id INT NULL,
        position INT NULL) ENGINE=InnoDB""",
    """CREATE TABLE tree_big_options (name VARCHAR(50) PRIMARY KEY, value BIGINT NOT NULL)""",
    """CREATE TABLE tree_journal (
        revision BIGINT NOT NULL, tbl VARCHAR(64) NOT NULL, record_id VARCHAR(191) NOT NULL,
        operation VARCHAR(8) NOT NULL, changed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
        PRIMARY KEY (revision, tbl, record_id), KEY (changed_at)) ENGINE=InnoDB""",
    # many boards in one table (TaskBoardScope): a parent may be another board's row
    """CREATE TABLE tree_sboards (id INT PRIMARY KEY, revision BIGINT NOT NULL DEFAULT 1)""",
    """CREATE TABLE tree_stasks (
        id INT AUTO_INCREMENT PRIMARY KEY, board_id INT NOT NULL, name VARCHAR(100) NOT NULL,
        parent_id INT NULL, position INT NULL, KEY (board_id)) ENGINE=InnoDB""",
]

# TaskBoardTree comes before the fields it names: they are checked when the section ends.
TASKS = """\
    <TaskBoardStore tasks>
        TaskBoardTable tree_tasks
        TaskBoardTree parentId parentIndex
        TaskBoardField name        string "default=New task"
        TaskBoardField parentId    int column=parent_id references=tasks
        TaskBoardField parentIndex int column=position
        TaskBoardField expanded    boolean default=0
        TaskBoardField startDate   datetime column=start_date
        TaskBoardField endDate     datetime column=end_date
        TaskBoardField duration    number
        TaskBoardField effort      number
    </TaskBoardStore>
"""

BOARD = f"""\
<Location /tree>
    TaskBoardRevision tree_options value name=revision
    TaskBoardJournal tree_journal
{TASKS}\
    <TaskBoardStore resources>
        TaskBoardTable tree_resources
        TaskBoardField name string
    </TaskBoardStore>
    <TaskBoardStore dependencies>
        TaskBoardTable tree_dependencies
        TaskBoardField from int column=from_task required references=tasks
        TaskBoardField to   int column=to_task required references=tasks
        TaskBoardField type int default=2
        TaskBoardField lag  number default=0
    </TaskBoardStore>
    <TaskBoardStore assignments>
        TaskBoardTable tree_assignments
        TaskBoardField event    int column=event required references=tasks
        TaskBoardField resource int column=resource required references=resources
        TaskBoardField units    number default=100
    </TaskBoardStore>
</Location>
<Location /tree/load>
    SetHandler taskboard-load
</Location>
<Location /tree/sync>
    SetHandler taskboard-sync
</Location>
"""

BIG = """\
<Location /bigtree>
    TaskBoardRevision tree_big_options value name=revision
    <TaskBoardStore tasks>
        TaskBoardTable tree_big
        TaskBoardField name        string
        TaskBoardField parentId    int column=parent_id references=tasks
        TaskBoardField parentIndex int column=position
        TaskBoardTree parentId parentIndex
    </TaskBoardStore>
</Location>
<Location /bigtree/load>
    SetHandler taskboard-load
</Location>
"""

SCOPED = """\
<Location /stree>
    TaskBoardScope board_id param=board int
    TaskBoardRevision tree_sboards revision id
    <TaskBoardStore tasks>
        TaskBoardTable tree_stasks
        TaskBoardField name        string
        TaskBoardField parentId    int column=parent_id references=tasks
        TaskBoardField parentIndex int column=position
        TaskBoardTree parentId parentIndex
    </TaskBoardStore>
</Location>
<Location /stree/load>
    SetHandler taskboard-load
</Location>
"""

# Answers up to 1 MiB are kept by the load cache; the big tree's is spooled to a file.
CONF = BOARD + BIG + SCOPED + "TaskBoardLoadCacheSize 33554432 1048576\n"

# The Gantt's board: Project A (1) with Design (2), Build (3: Frontend 5, Backend 4) and
# Review (1000); Testing (1038) and Docs (6) at the root.  Ids as in the captures.
SEED_TASKS = [  # id, name, parent, position, expanded
    (1, "Project A", None, 0, 1), (2, "Design", 1, 0, 0), (3, "Build", 1, 1, 1),
    (4, "Backend", 3, 1, 0), (5, "Frontend", 3, 0, 0), (1000, "Review", 1, 2, 0),
    (1038, "Testing", None, 1, 0), (6, "Docs", None, 2, 0),
]
SEED_DEPENDENCIES = [(1, 2, 3), (1001, 3, 1000), (7, 5, 1000), (8, 2, 1038)]
SEED_ASSIGNMENTS = [(1, 4, 1), (2, 2, 2), (3, 3, 1)]

# Gantt 5.6.2, verbatim (docs/protocol.md section 5): a child under parent 1, a dependency from it
# to task 3 and an assignment, in one sync.
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

# A new parent with a new child: the capture's records, whose other fields it elides ("…").
NEW_PARENT = ('{"tasks":{"added":[{"parentIndex":1,"expanded":true,"name":"New parent",'
              '"parentId":null,"$PhantomId":"_g:P"},{"parentIndex":0,"name":"Nested child",'
              '"parentId":"_g:P","$PhantomId":"_g:C","$PhantomParentId":"_g:P"}]}}')

# Remove task 3: its sibling 1000 renumbered, the dependencies the client knows removed.
REMOVE_3 = ('{"tasks":{"updated":[{"parentIndex":1,"id":1000},{"endDate":"2024-01-13T00:00:00Z",'
            '"duration":4,"effort":72,"id":1}],"removed":[{"id":3}]},"dependencies":{"removed":'
            '[{"id":1},{"id":1001}]}}')

# Indent 1038 under 1 (the capture elides the start date: the project's start here).
INDENT = ('{"tasks":{"updated":[{"parentId":1,"parentIndex":2,"id":1038},{"startDate":'
          '"2024-01-08T00:00:00Z","duration":7,"effort":168,"id":1}]}}')

N_BIG = 10000


def q_data(package: dict) -> str:
    return "data=" + urllib.parse.quote(json.dumps(package), safe="")


def seed(db):
    db.execute("SET FOREIGN_KEY_CHECKS = 0")
    for t in ("tree_assignments", "tree_dependencies", "tree_resources", "tree_tasks"):
        db.execute(f"TRUNCATE TABLE {t}")
    db.execute("SET FOREIGN_KEY_CHECKS = 1")
    db.executemany("INSERT INTO tree_tasks (id, name, parent_id, position, expanded) "
                   "VALUES (%s, %s, %s, %s, %s)", SEED_TASKS)
    db.executemany("INSERT INTO tree_resources (id, name) VALUES (%s, %s)",
                   [(1, "Ann"), (2, "Bob")])
    db.executemany("INSERT INTO tree_dependencies (id, from_task, to_task) VALUES (%s, %s, %s)",
                   SEED_DEPENDENCIES)
    db.executemany("INSERT INTO tree_assignments (id, event, resource) VALUES (%s, %s, %s)",
                   SEED_ASSIGNMENTS)


def make_big_tree(db):
    """10,000 nodes: a chain 300 deep, then nodes under random earlier or later ones (children
    read before their parents), about one in twelve a root, a few orphans, positions shuffled
    with ties and NULLs, names up to 600 characters."""
    rnd = random.Random(7700)
    parents = {}
    for i in range(1, N_BIG + 1):
        if i == 1 or rnd.random() < 0.08:
            parents[i] = None
        elif i <= 300:
            parents[i] = i - 1
        elif rnd.random() < 0.003:
            parents[i] = N_BIG + rnd.randint(1, 50)         # no such row: a root
        else:
            parents[i] = rnd.randint(1, N_BIG)
    # no cycles: a node whose chain of parents comes back to it is made a root
    for i in range(1, N_BIG + 1):
        seen, p = {i}, parents[i]
        while p is not None and p <= N_BIG:
            if p in seen:
                parents[i] = None
                break
            seen.add(p)
            p = parents[p]
    siblings = collections.defaultdict(list)
    for i, p in parents.items():
        siblings[p].append(i)
    rows = []
    for kids in siblings.values():
        rnd.shuffle(kids)
        for pos, i in enumerate(kids):
            position = None if rnd.random() < 0.02 else pos // 2 * 2   # ties, then by id
            rows.append((i, f"Task {i} " + "é" * rnd.randint(0, 600), parents[i], position))
    db.executemany("INSERT INTO tree_big (id, name, parent_id, position) "
                   "VALUES (%s, %s, %s, %s)", rows)


def expected_tree(db, store):
    """The rows of a tree store nested as docs/directives.md (TaskBoardTree) says, from the
    database."""
    return nest(db.expected_rows(store))


def nest(flat):
    """Roots are rows whose parent is NULL, itself or not a row; siblings by parentIndex (NULL
    first), then id; leaves without `children`."""
    ids = {r["id"] for r in flat}
    flat.sort(key=lambda r: (r["parentIndex"] is not None, r["parentIndex"] or 0, r["id"]))
    children = collections.defaultdict(list)
    roots = []
    for r in flat:
        p = r["parentId"]
        (roots if p is None or p == r["id"] or p not in ids else children[p]).append(r)

    def build(r):
        node = dict(r)
        if children.get(r["id"]):
            node["children"] = [build(c) for c in children[r["id"]]]
        return node
    return [build(r) for r in roots]


def assert_tree(store, actual, expected, path="rows"):
    """Node by node: the same records in the same places, each value typed as the field's."""
    types = {f.name: f.type for f in store.fields}
    types["id"] = "int"
    stack = [(actual, expected, path)]
    while stack:
        act, exp, where = stack.pop()
        assert isinstance(act, list), f"{where} is not a list: {str(act)[:200]}"
        assert [n.get("id") for n in act] == [n["id"] for n in exp], (
            f"{where}: ids {[n.get('id') for n in act][:40]}, expected "
            f"{[n['id'] for n in exp][:40]}")
        for a, e in zip(act, exp):
            at = f"{where}[id {e['id']}]"
            assert set(a) == set(e), f"{at}: keys {sorted(a)}, expected {sorted(e)}"
            for k, v in e.items():
                if k == "children":
                    stack.append((a[k], v, at + ".children"))
                else:
                    assert value_matches(types[k], a[k], v), f"{at}.{k}: {a[k]!r}, db {v!r}"


def count_nodes(rows):
    n, stack = 0, [rows]
    while stack:
        for node in stack.pop():
            n += 1
            if "children" in node:
                stack.append(node["children"])
    return n


class TestTreeStore:

    CONF = CONF
    BOARD = BOARD
    big = tbtest.parse_board(BIG)

    @classmethod
    def prepare_class(cls, db):
        for t in TABLES:
            db.execute(f"DROP TABLE IF EXISTS {t}")
        for sql in SCHEMA:
            db.execute(sql)
        db.execute("INSERT INTO tree_options (name, value) VALUES ('revision', 1)")
        db.execute("INSERT INTO tree_big_options (name, value) VALUES ('revision', 1)")
        make_big_tree(db)
        seed(db)

    @classmethod
    def cleanup_class(cls, db):
        db.execute("SET FOREIGN_KEY_CHECKS = 0")
        for t in TABLES:
            db.execute(f"DROP TABLE IF EXISTS {t}")
        db.execute("SET FOREIGN_KEY_CHECKS = 1")

    def load(self, httpd, db, path="/tree/load", board=None, **package):
        board = board or self.board
        pkg = {"type": "load", "requestId": 770, **package}
        r = httpd.get(f"{path}?{q_data(pkg)}")
        return tbtest.check_answer(r, board, db, "load", request_id=770), r

    def check_tasks(self, httpd, db):
        """A load of the tasks: nested exactly as the database says.  Returns the rows."""
        body, _ = self.load(httpd, db, stores=["tasks"])
        store = self.board.stores["tasks"]
        assert_tree(store, body["tasks"]["rows"], expected_tree(db, store))
        assert body["tasks"]["total"] == db.count("tree_tasks")
        return body["tasks"]["rows"]

    def sync(self, httpd, db, package, raises=True):
        pkg = jloads(package) if isinstance(package, str) else package
        before = board_state(db, self.board)
        rev = db.revision(self.board)
        r = sync_post(httpd, package, path="/tree/sync")
        body = check_sync(r, self.board, db)
        after = board_state(db, self.board)
        check_sync_result(body, pkg, self.board, before, after)
        assert body["revision"] == int(rev) + (1 if raises else 0)
        return body, before, after

    # -------------------------------------------------------------------------- load

    def test_tb_770_01(self, httpd, db):
        # the Gantt's board nested in parentIndex order: parents carry children, leaves none
        seed(db)
        rows = self.check_tasks(httpd, db)
        assert [n["id"] for n in rows] == [1, 1038, 6]
        assert [n["id"] for n in rows[0]["children"]] == [2, 3, 1000]
        assert [n["id"] for n in rows[0]["children"][1]["children"]] == [5, 4]
        assert "children" not in rows[2] and rows[0]["expanded"] is True
        # the flat stores beside it are unchanged by it
        body, _ = self.load(httpd, db)
        tbtest.compare_rows(self.board.stores["dependencies"], body["dependencies"]["rows"],
                            db.expected_rows(self.board.stores["dependencies"]))

    def test_tb_770_02(self, httpd, db):
        # positions decide, whatever the ids; a NULL position comes first, ties go by id
        seed(db)
        db.execute("UPDATE tree_tasks SET position = 5 WHERE id = 2")
        db.execute("UPDATE tree_tasks SET position = NULL WHERE id = 1000")
        db.execute("UPDATE tree_tasks SET position = 0 WHERE id = 4")
        rows = self.check_tasks(httpd, db)
        assert [n["id"] for n in rows[0]["children"]] == [1000, 3, 2]
        assert [n["id"] for n in rows[0]["children"][1]["children"]] == [4, 5]

    def test_tb_770_03(self, httpd, db):
        # a page asked of a tree is ignored: the tree comes whole; the second load comes from
        # the cache, byte for byte the same
        seed(db)
        store = self.board.stores["tasks"]
        body, r1 = self.load(httpd, db, stores=[{"storeId": "tasks", "page": 2, "pageSize": 2}])
        assert_tree(store, body["tasks"]["rows"], expected_tree(db, store))
        assert body["tasks"]["total"] == len(SEED_TASKS)
        _, r2 = self.load(httpd, db, stores=[{"storeId": "tasks", "page": 2, "pageSize": 2}])
        assert r2.content == r1.content

    def test_tb_770_04(self, httpd, db):
        # 10,000 nodes (a chain 300 deep, children read before their parents, orphans, ties,
        # NULL positions), spooled rather than cached: every row once, nested as the database
        # says; the httpd child's peak memory grows by about the answer once, not twice
        board = self.big
        store = board.stores["tasks"]
        # a child that has never loaded the big tree (VmHWM is its peak since it started),
        # warmed up with the small board's load
        httpd.restart()
        self.load(httpd, db)
        kids = procfs.children(httpd.pid())
        peak = {p: procfs.vm_kib(p, "VmHWM") for p in kids}
        t0 = time.monotonic()
        body, r = self.load(httpd, db, path="/bigtree/load", board=board)
        took = time.monotonic() - t0
        grew = max(procfs.vm_kib(p, "VmHWM") - peak[p] for p in kids) * 1024
        rows = body["tasks"]["rows"]
        assert body["tasks"]["total"] == N_BIG and count_nodes(rows) == N_BIG
        assert_tree(store, rows, expected_tree(db, store))
        size = len(r.content)
        print(f"\n770_04: {N_BIG} nodes, answer {size} bytes in {took:.2f} s; the serving child's "
              f"peak RSS grew by {grew} bytes ({grew / size:.2f} x the answer)")
        assert size > 3 * 1024 * 1024, "the answer is large enough to measure"
        # the rows' text once, the answer's first MiB collected for the cache, a little more;
        # not under a sanitizer, whose allocator keeps freed memory (quarantine) and shadows it
        if not os.environ.get("TB_SANITIZER_REPORTS"):
            assert grew < 1.5 * size + 2 * 1024 * 1024, (
                f"peak RSS grew by {grew} bytes for an answer of {size}")
            assert took < 20

    def test_tb_770_05(self, httpd, db):
        # many boards in one table: each board's tree from its own rows, read through the
        # prepared statement of a scoped store; a parent on another board makes a root
        db.execute("DELETE FROM tree_stasks")
        db.execute("DELETE FROM tree_sboards")
        db.executemany("INSERT INTO tree_sboards (id, revision) VALUES (%s, %s)",
                       [(1, 5), (2, 9)])
        db.executemany("INSERT INTO tree_stasks (id, board_id, name, parent_id, position) "
                       "VALUES (%s, %s, %s, %s, %s)",
                       [(1, 1, "A", None, 0), (2, 1, "A.1", 1, 1), (3, 1, "A.0", 1, 0),
                        (4, 2, "B", None, 1), (5, 2, "under A, on board 2", 1, 0),
                        (6, 2, "B.0", 4, 0), (7, 1, "A.0.0 " + "x" * 90, 3, 0)])
        store = tbtest.parse_board(SCOPED).stores["tasks"]
        for board in (1, 2):
            r = httpd.get(f"/stree/load?board={board}&"
                          + q_data({"type": "load", "requestId": 7705}))
            assert r.status_code == 200, tbtest.describe(r)
            body = tbtest.json_body(r)
            assert body["revision"] == db.scalar(
                "SELECT revision FROM tree_sboards WHERE id = %s", (board,))
            flat = [{"id": i, "name": n, "parentId": p, "parentIndex": pos}
                    for i, n, p, pos in db.query(
                        "SELECT id, name, parent_id, position FROM tree_stasks "
                        "WHERE board_id = %s", (board,))]
            assert_tree(store, body["tasks"]["rows"], nest(flat))
            assert body["tasks"]["total"] == len(flat)
        assert [n["id"] for n in body["tasks"]["rows"]] == [5, 4]

    def test_tb_770_06(self, httpd, db):
        # what changed since a revision ("sinceRevision") stays flat: the moved record with its
        # parentId and parentIndex, no children
        seed(db)
        r0 = db.revision(self.board)
        self.sync(httpd, db, INDENT)
        r = httpd.get("/tree/load?" + q_data({"type": "load", "requestId": 7706,
                                              "stores": ["tasks"], "sinceRevision": r0}))
        body = check_sync(r, self.board, db, request_id=7706)
        rows = {x["id"]: x for x in body["tasks"]["rows"]}
        assert set(rows) == {1, 1038} and "removed" not in body["tasks"]
        state = board_state(db, self.board)["tasks"]
        store = self.board.stores["tasks"]
        for i, row in rows.items():
            assert set(row) == set(state[i]), row
            for k, v in row.items():
                assert value_matches(store.field(k).type if k != "id" else "int", v,
                                     state[i][k]), (i, k)
        assert (rows[1038]["parentId"], rows[1038]["parentIndex"]) == (1, 2)

    # -------------------------------------------------------------------------- sync

    def test_tb_770_10(self, httpd, db):
        # a child under parent 1, a dependency from it to task 3 and an assignment, verbatim
        seed(db)
        body, before, after = self.sync(httpd, db, ADD_CHILD)
        child = next(r for r in body["tasks"]["rows"] if r.get("$PhantomId") == "_g:T")
        dep = body["dependencies"]["rows"][0]
        asg = body["assignments"]["rows"][0]
        assert child["parentId"] == 1 and child["parentIndex"] == 2
        assert (dep["from"], dep["to"]) == (child["id"], 3)
        assert (asg["event"], asg["resource"]) == (child["id"], 1)
        assert after["tasks"][1]["effort"] == 144
        rows = self.check_tasks(httpd, db)
        assert child["id"] in [n["id"] for n in rows[0]["children"]]

    def test_tb_770_11(self, httpd, db):
        # a new parent with a new child: parentId holds the parent's phantom id and
        # $PhantomParentId names it too
        seed(db)
        body, _, after = self.sync(httpd, db, NEW_PARENT)
        by_ph = {r["$PhantomId"]: r for r in body["tasks"]["rows"]}
        parent, child = by_ph["_g:P"], by_ph["_g:C"]
        assert parent["parentId"] is None and parent["expanded"] is True
        assert child["parentId"] == parent["id"]
        rows = self.check_tasks(httpd, db)
        node = next(n for n in rows if n["id"] == parent["id"])
        assert [c["id"] for c in node["children"]] == [child["id"]]

    def test_tb_770_12(self, httpd, db):
        # remove task 3: its subtree (4, 5) goes by cascade, and with it the dependency 7 of 5
        # and the assignments of 3 and 4, all reported; sibling 1000 renumbered
        seed(db)
        body, before, after = self.sync(httpd, db, REMOVE_3)
        assert sorted(x["id"] for x in body["tasks"]["removed"]) == [4, 5]
        assert [x["id"] for x in body["dependencies"]["removed"]] == [7]
        assert sorted(x["id"] for x in body["assignments"]["removed"]) == [1, 3]
        assert after["tasks"][1000]["parentIndex"] == 1
        assert not set(after["tasks"]) & {3, 4, 5}
        rows = self.check_tasks(httpd, db)
        assert [n["id"] for n in rows[0]["children"]] == [2, 1000]

    def test_tb_770_13(self, httpd, db):
        # indent: 1038 moves under 1 with parentIndex 2, tied with 1000's (by id: 1000 first);
        # its own child moves with it
        seed(db)
        db.execute("INSERT INTO tree_tasks (id, name, parent_id, position) "
                   "VALUES (1040, 'Under Testing', 1038, 0)")
        body, before, after = self.sync(httpd, db, INDENT)
        assert after["tasks"][1038]["parentId"] == 1 and after["tasks"][1038]["parentIndex"] == 2
        assert state_diff(before, after)["tasks"]["changed"].keys() == {1, 1038}
        rows = self.check_tasks(httpd, db)
        assert [n["id"] for n in rows] == [1, 6]
        assert [n["id"] for n in rows[0]["children"]] == [2, 3, 1000, 1038]
        assert [n["id"] for n in rows[0]["children"][3]["children"]] == [1040]

    def test_tb_770_14(self, httpd, db):
        # outdent and move with the siblings renumbered as the client sends them, and a new
        # subtree under a new parent added in the same sync, children listed first
        seed(db)
        pkg = {"type": "sync", "requestId": 77014, "tasks": {
            "added": [
                {"name": "Grandchild", "parentIndex": 0, "parentId": "_g:C2",
                 "$PhantomParentId": "_g:C2", "$PhantomId": "_g:G"},
                {"name": "Child", "parentIndex": 0, "parentId": "_g:P2",
                 "$PhantomParentId": "_g:P2", "$PhantomId": "_g:C2"},
                {"name": "Parent", "parentIndex": 4, "parentId": None, "expanded": True,
                 "$PhantomId": "_g:P2"}],
            "updated": [
                {"parentId": None, "parentIndex": 1, "id": 3},      # outdent 3 to the root
                {"parentIndex": 2, "id": 1038}, {"parentIndex": 3, "id": 6},
                {"parentIndex": 1, "id": 1000},
                {"parentId": 1038, "parentIndex": 0, "id": 2}]}}    # move 2 under 1038
        body, before, after = self.sync(httpd, db, pkg)
        ids = {r["$PhantomId"]: r["id"] for r in body["tasks"]["rows"] if "$PhantomId" in r}
        rows = self.check_tasks(httpd, db)
        assert [n["id"] for n in rows] == [1, 3, 1038, 6, ids["_g:P2"]]
        assert [n["id"] for n in rows[0]["children"]] == [1000]
        assert [n["id"] for n in rows[2]["children"]] == [2]
        sub = rows[4]["children"]
        assert [n["id"] for n in sub] == [ids["_g:C2"]]
        assert [n["id"] for n in sub[0]["children"]] == [ids["_g:G"]]

    def test_tb_770_15(self, httpd, db):
        # all in one transaction: the captured add, indent and removal together, with one added
        # record the column cannot hold (written after the removal and the first inserts):
        # 422 and nothing written, the revision unchanged
        seed(db)
        pkg = jloads(ADD_CHILD)
        for part in (jloads(INDENT), jloads(REMOVE_3), jloads(NEW_PARENT)):
            for sid, changes in part.items():
                for kind, recs in changes.items():
                    pkg.setdefault(sid, {}).setdefault(kind, []).extend(recs)
        pkg["tasks"]["added"][-1]["name"] = "x" * 300          # VARCHAR(255)
        dep = pkg["dependencies"]["added"][0]                  # not to task 3, removed here
        dep["to"] = dep["toEvent"] = dep["toTask"] = 2
        # the captured add updates task 1 too: one update of 1 with every field
        ups = {}
        for u in pkg["tasks"]["updated"]:
            ups.setdefault(u["id"], {}).update(u)
        pkg["tasks"]["updated"] = list(ups.values())
        rev = db.revision(self.board)
        with Unchanged(db, tables=TABLES):
            r = sync_post(httpd, pkg, path="/tree/sync")
            check_sync_error(r, 422)
        assert db.revision(self.board) == rev
        # the same without the bad value is saved whole
        pkg["tasks"]["added"][-1]["name"] = "Nested child"
        body, before, after = self.sync(httpd, db, pkg)
        assert after["tasks"][1038]["parentId"] == 1 and 3 not in after["tasks"]
        self.check_tasks(httpd, db)

    def test_tb_770_16(self, httpd, db):
        # a subtree deeper than InnoDB's 15 levels of ON DELETE CASCADE goes whole, every row of
        # it and the assignment at its bottom reported
        seed(db)
        chain = list(range(2000, 2040))
        db.executemany("INSERT INTO tree_tasks (id, name, parent_id, position) "
                       "VALUES (%s, %s, %s, 0)",
                       [(i, f"level {n}", 5 if n == 0 else i - 1) for n, i in enumerate(chain)])
        db.execute("INSERT INTO tree_assignments (id, event, resource) VALUES (40, 2039, 2)")
        body, before, after = self.sync(httpd, db, {"tasks": {"removed": [{"id": 3}]}})
        assert sorted(x["id"] for x in body["tasks"]["removed"]) == [4, 5] + chain
        assert sorted(x["id"] for x in body["assignments"]["removed"]) == [1, 3, 40]
        assert sorted(x["id"] for x in body["dependencies"]["removed"]) == [1, 7, 1001]
        self.check_tasks(httpd, db)
