"""Sync must not hurt the database server or other users (issue 14, points 3, 4, 8 and 9).

- 3: a sync prepares a bounded number of statements, whatever sets of fields its records send
  (docs/operations.md "Limits"), and still changes only the fields each record sent;
- 4: a resent $PhantomId goes through the record-level conflict check like any update, and on a
  location that authenticates users a phantom id belongs to the user who added the record;
- 8: a user without access gets 403 before the package is parsed or checked (no field names, no
  allowed values), and parents-first ordering of chained adds stays linear (also
  tests/unit/test_sync.c, which counts the steps);
- 9: a negative revision is a 400, never arithmetic on it (UBSan: make integration-asan).
"""

import json

import pytest
import requests

import boards
import procfs
import tbtest
from tbtest import (Unchanged, check_sync, check_sync_error, check_sync_result,
                    describe, sync_post)
from test_710_boards import BOARD_TABLES, BOARDS_SQL, boards_conf, seed

USERS = {"alice": "wonderland", "bob": "builder", "carol": "singer"}

# The writable fields of the sample tasks store, and a value for each that differs from the sample
# data, per record number.
TASK_VALUES = {
    "name": lambda i: f"renamed {i}",
    "description": lambda i: f"described {i}",
    "status": lambda i: ("doing", "review", "done")[i % 3],
    "prio": lambda i: ("low", "high")[i % 2],
    "weight": lambda i: 1000 + i,
    "deadline": lambda i: f"2031-02-{1 + i % 28:02d}",
    "startDate": lambda i: f"2031-03-{1 + i % 28:02d}T{i % 24:02d}:30:00Z",
    "eventColor": lambda i: f"c{i}",
    "readOnly": lambda i: True,
    "meta": lambda i: {"n": i},
}
TASK_FIELDS = list(TASK_VALUES)


def subset(mask: int) -> list:
    return [f for k, f in enumerate(TASK_FIELDS) if mask >> k & 1]


def com_stmt_prepare(db) -> int:
    return int(db.query("SHOW GLOBAL STATUS LIKE 'Com_stmt_prepare'")[0][1])


def statement_bound(conf_text: str) -> int:
    """docs/operations.md "Limits": a sync prepares at most 16 + 6 per store + 1 per reference field
    statements, whatever it sends."""
    lines = [ln.split() for ln in conf_text.splitlines() if not ln.strip().startswith("#")]
    stores = sum(1 for w in lines if w and w[0].lower() == "<taskboardstore")
    refs = sum(1 for w in lines if w and w[0].lower() == "taskboardfield"
               and any(x.lower().startswith("references=") for x in w))
    return 16 + 6 * stores + refs


def write_htpasswd(httpd) -> str:
    return tbtest.write_htpasswd(httpd, USERS)


auth_mods = tbtest.auth_mods


class TestStatements:
    """Point 3: the shipped configuration (journal, retry tables, record conflicts)."""

    CONF = tbtest.sample_test_conf()
    CACHE_OFF = True
    SAMPLE_DATA = ("test", "teardown")
    bound = statement_bound(CONF)

    def test_tb_820_01(self, httpd, db):
        # 300 updated records, each with its own set of fields: a bounded number of prepares
        # (before: one per set, 300 and more), and each record changed in exactly the fields
        # it sent
        n = 300
        db.executemany("INSERT INTO tasks (name, status, prio, weight, description, meta) "
                       "VALUES (%s, 'todo', 'medium', %s, 'orig', '{\"orig\":1}')",
                       [(f"bulk {i}", i) for i in range(n)])
        ids = [r[0] for r in db.query("SELECT id FROM tasks WHERE name LIKE 'bulk %%' "
                                      "ORDER BY id")]
        store = self.board.stores["tasks"]
        before = {r["id"]: r for r in db.expected_rows(store)}
        updated = []
        for i, tid in enumerate(ids):
            rec = {"id": tid}
            for f in subset(i + 1):
                rec[f] = TASK_VALUES[f](i)
            updated.append(rec)
        pkg = {"type": "sync", "requestId": 1, "tasks": {"updated": updated}}
        prepares = com_stmt_prepare(db)
        body = check_sync(sync_post(httpd, pkg), self.board, db, request_id=1)
        prepared = com_stmt_prepare(db) - prepares
        assert prepared <= self.bound, (
            f"{prepared} statements prepared for one sync of {n} records")
        after = {r["id"]: r for r in db.expected_rows(store)}
        types = {f.name: f.type for f in store.fields}
        for i, rec in enumerate(updated):
            tid = rec["id"]
            for f in store.fields:
                if f.name in rec:
                    assert tbtest.value_matches(types[f.name], rec[f.name], after[tid][f.name]), (
                        f"task {tid}: {f.name} sent {rec[f.name]!r}, "
                        f"stored {after[tid][f.name]!r}")
                else:
                    assert tbtest.strict_equal(after[tid][f.name], before[tid][f.name]), (
                        f"task {tid}: {f.name} was not sent, yet changed from "
                        f"{before[tid][f.name]!r} to {after[tid][f.name]!r}")
        untouched = set(before) - set(ids)
        assert all(after[t] == before[t] for t in untouched)
        assert "tasks" not in body or all("$PhantomId" not in r for r in body["tasks"]["rows"])

    def test_tb_820_02(self, httpd, db):
        # 200 added records, each with its own set of fields: a bounded number of prepares, the
        # fields not sent get the database's defaults (or the configured ones), and the answer
        # maps each phantom id to its row as stored
        n = 200
        added = []
        for i in range(n):
            rec = {"$PhantomId": f"_generatedEventModel_bulk{i}"}
            for f in subset(i + 1):
                rec[f] = TASK_VALUES[f](i)
            added.append(rec)
        pkg = {"type": "sync", "requestId": 2, "tasks": {"added": added}}
        before = tbtest.board_state(db, self.board)
        prepares = com_stmt_prepare(db)
        body = check_sync(sync_post(httpd, pkg), self.board, db, request_id=2)
        prepared = com_stmt_prepare(db) - prepares
        assert prepared <= self.bound, (
            f"{prepared} statements prepared for one sync of {n} records")
        after = tbtest.board_state(db, self.board)
        check_sync_result(body, pkg, self.board, before, after)
        store = self.board.stores["tasks"]
        types = {f.name: f.type for f in store.fields}
        rows = {r["$PhantomId"]: r for r in body["tasks"]["rows"]}
        prio_default = tbtest.column_default(db, "tasks", "prio")
        for rec in added:
            stored = after["tasks"][rows[rec["$PhantomId"]]["id"]]
            for f in TASK_FIELDS:
                if f in rec:
                    assert tbtest.value_matches(types[f], rec[f], stored[f]), (f, rec, stored)
            # not sent: the configured default, or the column's
            assert stored["name"] == rec.get("name", "New task")
            assert stored["status"] == rec.get("status", "todo")
            assert stored["prio"] == rec.get("prio", prio_default)
            assert stored["weight"] == rec.get("weight", 0)
            assert stored["readOnly"] is rec.get("readOnly", False)
            for f in ("description", "deadline", "startDate", "eventColor", "meta"):
                if f not in rec:
                    assert stored[f] is None, (f, rec, stored)


class TestPhantomResend:
    """Point 4: the shipped configuration behind Basic authentication."""

    SAMPLE_DATA = ("test", "teardown")

    @classmethod
    def prepare_class(cls, httpd):
        path = write_htpasswd(httpd)
        cls.CONF = (auth_mods() + tbtest.sample_test_conf() + tbtest.CACHE_OFF_CONF
                    + f'<Location /api>\n    AuthType Basic\n    AuthName "board"\n'
                      f'    AuthUserFile "{path}"\n    Require valid-user\n</Location>\n')

    def sync(self, httpd, user, pkg):
        return requests.post(httpd.url("/api/sync"), data=json.dumps(pkg).encode(),
                             headers={"Content-Type": "application/json"},
                             auth=(user, USERS[user]), timeout=30)

    def ok(self, httpd, db, user, pkg):
        return check_sync(self.sync(httpd, user, pkg), self.board, db,
                          request_id=pkg["requestId"])

    def rev(self, db) -> int:
        return int(db.revision(self.board))

    @staticmethod
    def add(rid, revision, name="A's card"):
        return {"type": "sync", "requestId": rid, "revision": revision,
                "tasks": {"added": [{"$PhantomId": "_generatedEventModel_820", "name": name,
                                     "status": "todo"}]},
                "assignments": {"added": [{"$PhantomId": "_generatedAssignmentModel_820",
                                           "eventId": "_generatedEventModel_820",
                                           "resourceId": 3}]}}

    def test_tb_820_03(self, httpd, db):
        # A adds a card, B renames it, A's add comes again (new requestId, A's old revision):
        # 409 naming the card, and B's name stays
        r0 = self.rev(db)
        first = self.ok(httpd, db, "alice", self.add(1, r0))
        tid = first["tasks"]["rows"][0]["id"]
        self.ok(httpd, db, "bob", {"type": "sync", "requestId": 2, "revision": r0 + 1,
                                   "tasks": {"updated": [{"id": tid, "name": "B's name"}]}})
        with Unchanged(db, tbtest.SAMPLE_TABLES + ("taskboard_phantoms",)):
            r = self.sync(httpd, "alice", self.add(3, r0))
        body = check_sync_error(r, 409, request_id=3)
        assert {(e["store"], e.get("$PhantomId")) for e in body["errors"]} == {
            ("tasks", "_generatedEventModel_820")}, body
        assert db.query("SELECT name FROM tasks WHERE id = %s", (tid,)) == [("B's name",)]

    def test_tb_820_04(self, httpd, db):
        # a genuine resend by the same client (its old revision, a new requestId; the
        # assignment still names the task by its phantom id) maps to the same rows and changes
        # nothing; the identical resend under the first requestId is replayed byte for byte
        r0 = self.rev(db)
        r1 = self.sync(httpd, "alice", self.add(1, r0))
        first = check_sync(r1, self.board, db, request_id=1)
        counts = db.count("tasks"), db.count("assignments")
        with Unchanged(db, tbtest.ALL_BUT_ANSWERS):
            again = self.ok(httpd, db, "alice", self.add(2, r0))
        assert again["tasks"]["rows"] == first["tasks"]["rows"]
        assert again["assignments"]["rows"] == first["assignments"]["rows"]
        assert (db.count("tasks"), db.count("assignments")) == counts
        # and after someone else changed the card, the identical resend is still replayed
        tid = first["tasks"]["rows"][0]["id"]
        self.ok(httpd, db, "bob", {"type": "sync", "requestId": 5, "revision": r0 + 1,
                                   "tasks": {"updated": [{"id": tid, "name": "B's name"}]}})
        with Unchanged(db):
            r2 = self.sync(httpd, "alice", self.add(1, r0))
        assert r2.status_code == 200 and r2.content == r1.content, describe(r2)

    def test_tb_820_05(self, httpd, db):
        # the same phantom id from another user is that user's own new record, never a resend
        # of alice's: bob's add does not touch alice's card, and each resend maps to its own
        r0 = self.rev(db)
        mine = self.ok(httpd, db, "alice", self.add(1, r0, name="alice's"))
        theirs = self.ok(httpd, db, "bob", self.add(2, r0 + 1, name="bob's"))
        a_id, b_id = mine["tasks"]["rows"][0]["id"], theirs["tasks"]["rows"][0]["id"]
        assert a_id != b_id
        assert db.query("SELECT id, name FROM tasks WHERE id IN (%s, %s) ORDER BY id",
                        (a_id, b_id)) == sorted([(a_id, "alice's"), (b_id, "bob's")])
        again = self.ok(httpd, db, "alice", self.add(3, r0 + 2, name="alice's"))
        assert again["tasks"]["rows"][0]["id"] == a_id
        again = self.ok(httpd, db, "bob", self.add(4, r0 + 2, name="bob's"))
        assert again["tasks"]["rows"][0]["id"] == b_id
        assert db.scalar("SELECT COUNT(*) FROM tasks WHERE id IN (%s, %s)", (a_id, b_id)) == 2


class TestAuthorizeFirst:
    """Point 8: the boards of conf/taskboard-boards.conf with board_access, as test_720."""

    SAMPLE_DATA = ("teardown",)

    @classmethod
    def prepare_class(cls, env, httpd):
        path = write_htpasswd(httpd)
        env.db_load(BOARDS_SQL)
        cls.CONF = auth_mods() + boards_conf(with_access=True).replace(
            "/etc/apache2/taskboard.htpasswd", path)

    @pytest.fixture(autouse=True)
    def _seed(self, db):
        seed(db, [(1, "alice", "write"), (1, "bob", "read")])

    def sync(self, httpd, user, data):
        return requests.post(httpd.url("/boards/1/sync"), data=data, auth=(user, USERS[user]),
                             headers={"Content-Type": "application/json"}, timeout=10)

    def test_tb_820_06(self, httpd, db):
        # an invalid package from a user without access (carol), or with read access only
        # (bob): 403, with none of the store's field names or allowed values in the answer
        invalid = json.dumps({"type": "sync", "requestId": 6, "tasks": {
            "added": [{"$PhantomId": "_x", "status": "nonsense", "weight": "heavy"}],
            "updated": [{"id": 101, "name": None, "status": 7}]}})
        with Unchanged(db, BOARD_TABLES):
            for user, data in (("carol", invalid), ("carol", "{not json"), ("bob", invalid)):
                r = self.sync(httpd, user, data)
                assert r.status_code == 403, (user, describe(r))
                body = r.json()
                assert body["success"] is False and body["code"] == 403 and "errors" not in body
                for word in ("status", "weight", "name", "todo", "required", "nonsense"):
                    assert word not in r.text, (user, word, r.text)
        # alice may write: the same package is checked as before (422, every problem listed)
        r = self.sync(httpd, "alice", invalid)
        assert r.status_code == 422 and r.json()["errors"], describe(r)


def httpd_cpu(httpd) -> int:
    """CPU ticks used so far by the httpd parent and its children."""
    parent = httpd.pid()
    total = procfs.cpu_ticks(parent)
    for pid in procfs.children(parent):
        try:
            total += procfs.cpu_ticks(pid)
        except OSError:
            pass
    return total


class TestChainedAdds:
    """Point 8: parents-first ordering of 5,000 chained adds (the full board, no journal)."""

    CONF = boards.board_conf()
    CACHE_OFF = True
    SAMPLE_DATA = ("teardown",)

    @staticmethod
    def package(rid, n, chained):
        added = []
        for i in range(n):
            rec = {"$PhantomId": f"_g{rid}_{i}", "name": f"chain {i}", "parentId": None}
            if chained and i > 0:   # True, or "reversed": sent children first
                rec["parentId"] = rec["$PhantomParentId"] = f"_g{rid}_{i - 1}"
            added.append(rec)
        if chained == "reversed":
            added.reverse()
        return {"type": "sync", "requestId": rid, "tasks": {"added": added}}

    def timed(self, httpd, db, pkg) -> int:
        start = httpd_cpu(httpd)
        r = sync_post(httpd, pkg)
        used = httpd_cpu(httpd) - start
        body = check_sync(r, self.board, db, request_id=pkg["requestId"])
        assert len(body["tasks"]["rows"]) == len(pkg["tasks"]["added"])
        return used

    def check_chain(self, db, n):
        rows = dict(db.query("SELECT name, parent_id FROM tasks WHERE name LIKE 'chain %%'"))
        ids = dict(db.query("SELECT name, id FROM tasks WHERE name LIKE 'chain %%'"))
        assert len(rows) == n and rows["chain 0"] is None
        assert all(rows[f"chain {i}"] == ids[f"chain {i - 1}"] for i in range(1, n))

    def test_tb_820_07(self, httpd, db, env):
        # 5,000 added tasks, each the child of the one before, sent parents first and children
        # first: stored as a chain either way, at about the server's cost of the same tasks
        # unchained (a generous factor against a baseline of the same test, not a timing;
        # tests/unit/test_sync.c counts the ordering's steps)
        n = 5000
        env.db_load()
        self.timed(httpd, db, self.package(1, 200, False))   # warm up the connections
        env.db_load()
        flat = self.timed(httpd, db, self.package(2, n, False))
        env.db_load()
        chained = self.timed(httpd, db, self.package(3, n, True))
        self.check_chain(db, n)
        env.db_load()
        backwards = self.timed(httpd, db, self.package(4, n, "reversed"))
        self.check_chain(db, n)
        env.db_load()
        for cost in (chained, backwards):
            assert cost < 4 * max(flat, 10), (
                f"chained adds cost {chained} and {backwards} CPU ticks (parents first, "
                f"children first), the same adds unchained {flat}")


class TestRevisionRange:
    """Point 9: the shipped configuration (journal, record conflicts)."""

    CONF = tbtest.sample_test_conf()
    CACHE_OFF = True
    SAMPLE_DATA = ("started", "teardown")

    def test_tb_820_08(self, httpd, db):
        # a negative revision is a 400, in a sync that changes something and in an empty one
        # (a poll), and nothing is written; the largest revision is no overflow either
        lowest = -9223372036854775808
        with Unchanged(db, tbtest.SAMPLE_TABLES + ("taskboard_journal",)):
            for rev in (lowest, lowest + 1, -1):
                for changes in ({"tasks": {"updated": [{"id": 1, "name": "x"}]}}, {}):
                    pkg = {"type": "sync", "requestId": 8, "revision": rev, **changes}
                    body = check_sync_error(sync_post(httpd, pkg), 400, request_id=8)
                    assert "revision" in body["message"], body
        # ahead of the board (restored from a backup): no overflow either; the poll is answered
        # with the whole board at its revision
        r = sync_post(httpd, {"type": "sync", "requestId": 9, "revision": 9223372036854775807})
        assert r.status_code == 200, describe(r)
        assert r.json()["revision"] == int(db.revision(self.board)), describe(r)
