"""Live boards through the change journal (conf/taskboard.conf: TaskBoardJournal taskboard_journal,
TaskBoardConflictPolicy record): what a sync writes to the journal, record-level conflicts, the
deltas that stale syncs, empty (polling) syncs and loads with "sinceRevision" get, and the full load
when the journal no longer reaches back.  The events handler is test_670.
"""

import json
import threading
import time
import urllib.parse

import tbtest
from tbtest import Unchanged, check_load, check_sync, check_sync_error, describe, sync_post

JOURNAL_TABLES = tbtest.SAMPLE_TABLES + ("taskboard_journal",)
SAMPLE = tbtest.sample_test_conf()


def journal(db, since: int = 0):
    return [(int(r[0]), r[1], r[2], r[3]) for r in db.query(
        "SELECT `revision`, `tbl`, `record_id`, `operation` FROM taskboard_journal "
        "WHERE `revision` > %s ORDER BY `revision`, `tbl`, `record_id`", (since,))]


def package(rid, revision=None, **stores) -> dict:
    pkg = {"type": "sync", "requestId": rid}
    if revision is not None:
        pkg["revision"] = revision
    pkg.update(stores)
    return pkg


def sections(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in tbtest.SYNC_KEYS}


def mentioned(body: dict) -> set:
    """(storeId, id, "rows" or "removed") of every record an answer mentions, asserting none is
    mentioned twice."""
    seen = {}
    for sid, sec in sections(body).items():
        for part in ("rows", "removed"):
            for rec in sec.get(part, []):
                key = (sid, rec["id"])
                assert key not in seen, f"{key} mentioned twice: {body}"
                seen[key] = part
    return {(sid, rid, part) for (sid, rid), part in seen.items()}


def load_url(**pkg) -> str:
    return "/api/load?data=" + urllib.parse.quote(json.dumps(dict(type="load", **pkg)),
                                                  safe="")


class Mirror:
    """A client's copy of the board, kept current the way the Bryntum client does it: a load
    replaces the stores, a sync answer's rows are added or update the record with that id, its
    removed ids are removed."""

    def __init__(self, board, body: dict):
        self.board = board
        self.revision = None
        self.stores = {}
        self.apply(body)

    def apply(self, body: dict):
        if body["type"] == "load":
            self.stores = {sid: {r["id"]: dict(r) for r in body[sid]["rows"]}
                           for sid in self.board.stores}
        else:
            for sid, sec in sections(body).items():
                for r in sec.get("rows", []):
                    self.stores[sid].setdefault(r["id"], {}).update(r)
                for r in sec.get("removed", []):
                    self.stores[sid].pop(r["id"], None)
        self.revision = body["revision"]

    def check(self, db):
        for sid, store in self.board.stores.items():
            expected = db.expected_rows(store)
            assert set(self.stores[sid]) == {r["id"] for r in expected}, (
                f"{sid}: the client has {sorted(self.stores[sid], key=repr)}, the database "
                f"{sorted((r['id'] for r in expected), key=repr)}")
            tbtest.compare_rows(store, [self.stores[sid][r["id"]] for r in expected], expected,
                                where="client copy: ")


class Live:
    """Shared set-up: the shipped configuration (a subclass adds to it) and fresh sample data per
    test."""
    CONF = SAMPLE
    SAMPLE_DATA = ("test", "teardown")

    def rev(self, db) -> int:
        return int(db.revision(self.board))

    def ok(self, httpd, db, pkg) -> dict:
        r = sync_post(httpd, pkg)
        return check_sync(r, self.board, db, request_id=pkg["requestId"])


class TestJournal(Live):
    """What each sync writes to the journal."""

    def test_tb_660_01(self, httpd, db):
        # one row per record a sync changed, under the revision it raised the board to: adds
        # (with their real ids), updates, removals and the rows the removals cascaded to
        r0 = self.rev(db)
        body = self.ok(httpd, db, package(1, r0, tasks={"added": [
            {"$PhantomId": "_t", "name": "new", "status": "todo"}], "updated": [
            {"id": 1, "name": "renamed"}]}, assignments={"added": [
                {"$PhantomId": "_a1", "eventId": "_t", "resourceId": 1},
                {"$PhantomId": "_a2", "eventId": "_t", "resourceId": 2}]}))
        new_task = body["tasks"]["rows"][0]["id"]
        new_as = sorted(r["id"] for r in body["assignments"]["rows"])
        assert body["revision"] == r0 + 1
        assert journal(db) == sorted(
            [(r0 + 1, "tasks", str(new_task), "added"), (r0 + 1, "tasks", "1", "updated")]
            + [(r0 + 1, "assignments", str(i), "added") for i in new_as])
        # removing resource 7 takes assignment 6 along (ON DELETE CASCADE)
        self.ok(httpd, db, package(2, r0 + 1, resources={"removed": [{"id": 7}]}))
        assert journal(db, r0 + 1) == [(r0 + 2, "assignments", "6", "removed"),
                                       (r0 + 2, "resources", "7", "removed")]

    def test_tb_660_02(self, httpd, db):
        # a sync that changes nothing (same values, a record gone already) writes no journal
        # row and keeps the revision
        r0 = self.rev(db)
        name = db.scalar("SELECT name FROM tasks WHERE id = 2")
        with Unchanged(db, JOURNAL_TABLES):
            body = self.ok(httpd, db, package(3, r0, tasks={"updated": [{"id": 2, "name": name}],
                                                            "removed": [{"id": 999}]}))
        assert body["revision"] == r0

    def test_tb_660_03(self, httpd, db):
        # more than a batch of 16 rows: all of them, once (rows go 16 to a statement)
        r0 = self.rev(db)
        added = [{"$PhantomId": f"_r{i}", "name": f"R{i}"} for i in range(37)]
        body = self.ok(httpd, db, package(4, r0, resources={"added": added}))
        ids = sorted(str(r["id"]) for r in body["resources"]["rows"])
        assert journal(db) == sorted((r0 + 1, "resources", i, "added") for i in ids)


class TestRecordPolicy(Live):
    """TaskBoardConflictPolicy record (the shipped configuration)."""

    def test_tb_660_10(self, httpd, db):
        # two users edit different cards from the same revision: both are saved, and the second
        # one's answer brings the first one's change along
        r0 = self.rev(db)
        a = self.ok(httpd, db, package(10, r0, tasks={"updated": [{"id": 1, "status": "done"}]}))
        assert a["revision"] == r0 + 1 and "tasks" not in a
        b = self.ok(httpd, db, package(11, r0, tasks={"updated": [{"id": 2, "weight": 7}]}))
        assert b["revision"] == r0 + 2
        assert mentioned(b) == {("tasks", 1, "rows")}
        tbtest.compare_rows(self.board.stores["tasks"], b["tasks"]["rows"],
                            [r for r in db.expected_rows(self.board.stores["tasks"])
                             if r["id"] == 1])
        assert db.scalar("SELECT status FROM tasks WHERE id = 1") == "done"
        assert db.scalar("SELECT weight FROM tasks WHERE id = 2") == 7

    def test_tb_660_11(self, httpd, db):
        # the same card from the same revision: the second sync gets 409 listing the record,
        # and nothing of it is saved (not its other records either)
        r0 = self.rev(db)
        self.ok(httpd, db, package(12, r0, tasks={"updated": [{"id": 3, "name": "first"}]}))
        with Unchanged(db, JOURNAL_TABLES):
            r = sync_post(httpd, package(13, r0, tasks={"updated": [{"id": 3, "name": "second"},
                                                                    {"id": 4, "weight": 1}]},
                                         resources={"removed": [{"id": 2}]}))
            body = check_sync_error(r, 409, request_id=13)
        assert body["errors"] == [{"store": "tasks", "id": 3, "field": None,
                                   "message": f"changed by someone else in revision {r0 + 1}"}]
        assert "someone else" in body["message"]
        assert db.scalar("SELECT name FROM tasks WHERE id = 3") == "first"

    def test_tb_660_12(self, httpd, db):
        # at the same moment from the same revision: on one card exactly one of 6 wins; on six
        # different records all 6 are saved, each under its own revision
        r0 = self.rev(db)

        def race(pkgs):
            out = [None] * len(pkgs)
            go = threading.Barrier(len(pkgs))

            def run(i):
                go.wait()
                out[i] = sync_post(httpd, pkgs[i])
            threads = [threading.Thread(target=run, args=(i,)) for i in range(len(pkgs))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return out

        same = race([package(20 + i, r0, tasks={"updated": [{"id": 5, "name": f"writer {i}"}]})
                     for i in range(6)])
        codes = sorted(r.status_code for r in same)
        assert codes == [200] + [409] * 5, [describe(r) for r in same]
        winner = next(r for r in same if r.status_code == 200)
        assert db.scalar("SELECT name FROM tasks WHERE id = 5") == \
            f"writer {winner.json()['requestId'] - 20}"
        assert self.rev(db) == r0 + 1

        r1 = self.rev(db)
        targets = [("tasks", 1), ("tasks", 2), ("tasks", 3), ("tasks", 4), ("resources", 1),
                   ("swimlanes", "high")]
        field = {"tasks": "name", "resources": "name", "swimlanes": "text"}
        diff = race([package(30 + i, r1, **{sid: {"updated": [{"id": rid, field[sid]: f"w{i}"}]}})
                     for i, (sid, rid) in enumerate(targets)])
        assert all(r.status_code == 200 for r in diff), [describe(r) for r in diff]
        assert sorted(r.json()["revision"] for r in diff) == list(range(r1 + 1, r1 + 7))
        for i, (sid, rid) in enumerate(targets):
            table = {"tasks": "tasks", "resources": "resources", "swimlanes": "swimlanes"}[sid]
            col = "text" if sid == "swimlanes" else "name"
            assert db.scalar(f"SELECT {col} FROM {table} WHERE id = %s", (rid,)) == f"w{i}"

    def test_tb_660_13(self, httpd, db):
        # removed by someone else: updating it is a conflict, removing it again is not (and
        # changes nothing); an assignment removed by a cascade counts as removed
        r0 = self.rev(db)
        self.ok(httpd, db, package(40, r0, tasks={"removed": [{"id": 5}]},
                                   resources={"removed": [{"id": 7}]}))
        with Unchanged(db, JOURNAL_TABLES):
            body = check_sync_error(sync_post(httpd, package(41, r0, tasks={
                "updated": [{"id": 5, "name": "still here?"}]})), 409, request_id=41)
            assert body["errors"][0]["message"] == f"removed by someone else in revision {r0 + 1}"
            # assignment 6 went with resource 7, assignment 9 with task 5
            body = check_sync_error(sync_post(httpd, package(42, r0, assignments={
                "updated": [{"id": 6, "units": 10}, {"id": 9, "units": 10}]})), 409,
                request_id=42)
            assert sorted(e["id"] for e in body["errors"]) == [6, 9]
            again = self.ok(httpd, db, package(43, r0, tasks={"removed": [{"id": 5}]}))
        assert again["revision"] == r0 + 1
        # it still learns what else changed: the removed assignments (task 5 it removed itself)
        assert mentioned(again) == {("resources", 7, "removed"), ("assignments", 6, "removed"),
                                    ("assignments", 9, "removed"),
                                    ("assignments", 10, "removed")}

    def test_tb_660_14(self, httpd, db):
        # a revision the journal cannot explain (another writer raised it): a stale sync cannot
        # be checked record by record and gets 409; a current one goes through
        r0 = self.rev(db)
        db.execute("UPDATE tasks SET name = 'outside' WHERE id = 1")   # raises the revision
        with Unchanged(db, JOURNAL_TABLES):
            body = check_sync_error(sync_post(httpd, package(50, r0, tasks={
                "updated": [{"id": 2, "name": "x"}]})), 409, request_id=50)
        assert "record by record" in body["message"] and "errors" not in body
        self.ok(httpd, db, package(51, r0 + 1, tasks={"updated": [{"id": 2, "name": "x"}]}))

    def test_tb_660_15(self, httpd, db):
        # a sync whose answer was lost comes again under a new requestId with the client's old
        # revision: its records hold its values already, so it is no conflict with itself (and
        # changes nothing); an update to other values of a record changed since still is one
        r0 = self.rev(db)
        change = {"tasks": {"updated": [{"id": 2, "status": "review", "weight": 5}]},
                  "resources": {"removed": [{"id": 6}]}}
        self.ok(httpd, db, package(70, r0, **change))          # its answer "lost"
        self.ok(httpd, db, package(71, r0 + 1, tasks={"updated": [{"id": 4, "name": "other"}]}))
        with Unchanged(db, JOURNAL_TABLES):
            again = self.ok(httpd, db, package(72, r0, **change))
        assert again["revision"] == r0 + 2
        # it learns what the lost answer said (the assignment its removal took along) and the
        # other client's change, and gets its own card whole, as it stands
        assert mentioned(again) == {("tasks", 2, "rows"), ("tasks", 4, "rows"),
                                    ("assignments", 4, "removed")}
        with Unchanged(db, JOURNAL_TABLES):
            body = check_sync_error(sync_post(httpd, package(73, r0, tasks={
                "updated": [{"id": 2, "status": "review", "weight": 6}]})), 409, request_id=73)
        assert [e["id"] for e in body["errors"]] == [2]


class TestOffPolicy(Live):
    CONF = SAMPLE + "<Location /api>\n    TaskBoardConflictPolicy off\n</Location>\n"

    def test_tb_660_20(self, httpd, db):
        # the last writer wins, and learns the whole record: a stale edit of a card someone else
        # changed keeps both changes, and the answer carries the full row
        r0 = self.rev(db)
        self.ok(httpd, db, package(60, r0, tasks={"updated": [{"id": 1, "status": "done"}]}))
        b = self.ok(httpd, db, package(61, r0, tasks={"updated": [{"id": 1, "weight": 9},
                                                                  {"id": 2, "weight": 8}]}))
        assert mentioned(b) == {("tasks", 1, "rows")}
        row = b["tasks"]["rows"][0]
        assert row["status"] == "done" and row["weight"] == 9 and "name" in row


class TestRejectPolicy(Live):
    CONF = SAMPLE + "<Location /api>\n    TaskBoardConflictPolicy reject\n</Location>\n"

    def test_tb_660_25(self, httpd, db):
        # the classic: any stale sync is refused, even on another card; the journal is written
        r0 = self.rev(db)
        self.ok(httpd, db, package(62, r0, tasks={"updated": [{"id": 1, "status": "done"}]}))
        with Unchanged(db, JOURNAL_TABLES):
            body = check_sync_error(sync_post(httpd, package(63, r0, tasks={
                "updated": [{"id": 2, "weight": 8}]})), 409, request_id=63)
        assert "errors" not in body
        assert journal(db) == [(r0 + 1, "tasks", "1", "updated")]


class TestPolling(Live):
    """A client that only polls with empty syncs (forceSync) stays current."""

    def test_tb_660_30(self, httpd, db):
        # every change reaches the poller exactly once: each answer names exactly the records
        # changed since its revision, and its copy equals the database after every poll
        board = self.board
        poller = Mirror(board, check_load(httpd.get(load_url(requestId=1)), board, db))
        writer_rev = poller.revision
        rid = [100]

        def write(**stores):
            nonlocal writer_rev
            rid[0] += 1
            body = self.ok(httpd, db, package(rid[0], writer_rev, **stores))
            writer_rev = body["revision"]
            return body

        def poll(expect: set):
            rid[0] += 1
            with Unchanged(db, JOURNAL_TABLES):
                r = sync_post(httpd, package(rid[0], poller.revision))
                body = check_sync(r, board, db, request_id=rid[0])
            assert mentioned(body) == expect, body
            poller.apply(body)
            poller.check(db)

        poll(set())
        write(tasks={"updated": [{"id": 3, "status": "done"}]})
        poll({("tasks", 3, "rows")})
        added = write(tasks={"added": [{"$PhantomId": "_t", "name": "new card"}]},
                      assignments={"added": [{"$PhantomId": "_a", "eventId": "_t",
                                              "resourceId": 4}]})
        t_new = added["tasks"]["rows"][0]["id"]
        a_new = added["assignments"]["rows"][0]["id"]
        write(resources={"updated": [{"id": 2, "name": "Célia"}]})
        write(tasks={"updated": [{"id": t_new, "prio": "high"}]})
        poll({("tasks", t_new, "rows"), ("assignments", a_new, "rows"),
              ("resources", 2, "rows")})
        # removing a card takes its assignments along (reported by the cascade)
        write(tasks={"removed": [{"id": 5}]})
        poll({("tasks", 5, "removed"), ("assignments", 9, "removed"),
              ("assignments", 10, "removed")})
        # string ids; and a card added and removed between two polls is reported removed
        gone = write(tasks={"added": [{"$PhantomId": "_g", "name": "short-lived"}]})
        g = gone["tasks"]["rows"][0]["id"]
        write(columns={"added": [{"$PhantomId": "_c", "id": "later", "text": "Later"}]},
              swimlanes={"updated": [{"id": "low", "color": "grey"}]})
        write(tasks={"removed": [{"id": g}]})
        poll({("columns", "later", "rows"), ("swimlanes", "low", "rows"),
              ("tasks", g, "removed")})
        poll(set())

    def test_tb_660_31(self, httpd, db):
        # a revision the journal cannot explain (a writer outside the module): the poll is
        # answered with a full load, after which polling goes on with deltas
        board = self.board
        r0 = self.rev(db)
        db.execute("UPDATE resources SET name = 'Changed outside' WHERE id = 3")
        r = sync_post(httpd, package(200, r0))
        body = check_load(r, board, db, request_id=200)
        poller = Mirror(board, body)
        self.ok(httpd, db, package(201, poller.revision,
                                   resources={"updated": [{"id": 3, "role": "Lead"}]}))
        body = check_sync(sync_post(httpd, package(202, poller.revision)), board, db,
                          request_id=202)
        assert mentioned(body) == {("resources", 3, "rows")}
        poller.apply(body)
        poller.check(db)

    def test_tb_660_32(self, httpd, db):
        # "sinceRevision" in a load: only what changed since, as a sync answer, for the stores
        # asked for; up to date: no store at all; a gap: the full load; a bad value: 400
        board = self.board
        r0 = self.rev(db)
        self.ok(httpd, db, package(210, r0, tasks={"updated": [{"id": 2, "status": "doing"}]},
                                   resources={"updated": [{"id": 1, "role": "Boss"}]}))
        r = httpd.get(load_url(requestId=211, stores=["tasks", "assignments"],
                               sinceRevision=r0))
        body = check_sync(r, board, db, request_id=211)
        assert mentioned(body) == {("tasks", 2, "rows")}
        r = httpd.post("/api/load", json={"type": "load", "requestId": 212,
                                          "sinceRevision": r0 + 1})
        body = check_sync(r, board, db, request_id=212)
        assert set(body) == tbtest.SYNC_KEYS
        db.execute("UPDATE tasks SET weight = 1 WHERE id = 1")
        check_load(httpd.get(load_url(requestId=213, sinceRevision=r0 + 1)), board, db,
                   request_id=213)
        for bad in ("1", -1, 1.5, True):
            tbtest.check_error(httpd.get(load_url(requestId=214, sinceRevision=bad)), 400,
                               request_id=214)


class TestPrune(Live):
    """A journal kept one second: pruned whole revisions at a time, after which a poller that is
    further behind gets a full load, and nothing is missed or told twice."""
    CONF = SAMPLE + "<Location /api>\n    TaskBoardJournal taskboard_journal 1\n</Location>\n"

    def test_tb_660_40(self, httpd, db):
        board = self.board
        poller = Mirror(board, check_load(httpd.get(load_url(requestId=1)), board, db))
        writer = {"rev": poller.revision, "rid": 300}

        def write(**stores):
            writer["rid"] += 1
            writer["rev"] = self.ok(httpd, db, package(writer["rid"], writer["rev"],
                                                       **stores))["revision"]

        def poll():
            writer["rid"] += 1
            r = sync_post(httpd, package(writer["rid"], poller.revision))
            assert r.status_code == 200, describe(r)
            body = r.json()
            poller.apply(body)
            poller.check(db)
            return body

        write(tasks={"updated": [{"id": 1, "name": "one"}]})
        assert poll()["type"] == "sync"
        behind = poller.revision
        write(tasks={"updated": [{"id": 2, "name": "two"}]})
        time.sleep(2.2)
        write(resources={"updated": [{"id": 1, "name": "three"}]})   # prunes what is older
        tbtest.poll(lambda: not db.scalar("SELECT COUNT(*) FROM taskboard_journal "
                                          "WHERE revision <= %s", (behind + 1,)),
                    10, what="the journal pruned")
        # whole revisions go: what is left starts right after the pruned ones
        left = {r[0] for r in journal(db)}
        assert left == {writer["rev"]}, left
        body = poll()
        assert body["type"] == "load"
        check_load(httpd.get(load_url(requestId=2)), board, db)
        write(tasks={"updated": [{"id": 3, "name": "four"}]})
        body = poll()
        assert body["type"] == "sync" and mentioned(body) == {("tasks", 3, "rows")}


class TestConcurrentPolling(Live):
    """Writers race on shared cards through the record policy while a poller keeps its copy
    current with empty syncs only: every poll answer is consistent, and the copy ends equal to
    the database."""

    def test_tb_660_50(self, httpd, db):
        board = self.board
        writers, steps = 4, 25
        poller = Mirror(board, check_load(httpd.get(load_url(requestId=1)), board, db))
        stop = threading.Event()
        failures, outcome = [], {"200": 0, "409": 0, "polls": 0}
        lock = threading.Lock()

        def writer(w: int):
            import random
            rnd = random.Random(w)
            rev = poller.revision
            own = []
            for n in range(steps):
                rid = 10000 * (w + 1) + n
                op = rnd.choice(["shared", "shared", "add", "own", "remove"])
                if op == "shared" or (op in ("own", "remove") and not own):
                    pkg = package(rid, rev, tasks={"updated": [
                        {"id": rnd.randint(1, 4), "weight": rnd.randint(0, 999)}]})
                elif op == "add":
                    pkg = package(rid, rev, tasks={"added": [
                        {"$PhantomId": f"_t{rid}", "name": f"w{w} {n}"}]},
                        assignments={"added": [{"$PhantomId": f"_a{rid}", "eventId": f"_t{rid}",
                                                "resourceId": rnd.randint(1, 7)}]})
                elif op == "own":
                    pkg = package(rid, rev, tasks={"updated": [
                        {"id": rnd.choice(own), "name": f"w{w} renamed {n}"}]})
                else:
                    pkg = package(rid, rev, tasks={"removed": [{"id": own.pop()}]})
                r = sync_post(httpd, pkg)
                with lock:
                    outcome[str(r.status_code)] = outcome.get(str(r.status_code), 0) + 1
                if r.status_code == 200:
                    body = r.json()
                    rev = body["revision"]
                    own += [x["id"] for x in body.get("tasks", {}).get("rows", [])
                            if "$PhantomId" in x]
                elif r.status_code == 409:
                    # the client reloads (here: learns the revision) and goes on
                    rev = sync_post(httpd, package(rid + 500000)).json()["revision"]
                else:
                    failures.append(describe(r))
                    return

        def polling():
            rid = 90000
            while not stop.is_set():
                rid += 1
                r = sync_post(httpd, package(rid, poller.revision))
                if r.status_code != 200:
                    failures.append(describe(r))
                    return
                body = r.json()
                try:
                    mentioned(body)
                except AssertionError as e:
                    failures.append(str(e))
                    return
                poller.apply(body)
                outcome["polls"] += 1

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
        poll_thread = threading.Thread(target=polling)
        poll_thread.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        poll_thread.join()
        assert not failures, failures[:3]
        assert outcome["200"] + outcome["409"] == writers * steps, outcome
        assert outcome["200"] > outcome["409"] > 0 and outcome["polls"] > 10, outcome
        # one last poll brings the copy level with the database
        body = check_sync(sync_post(httpd, package(99999, poller.revision)), board, db,
                          request_id=99999)
        poller.apply(body)
        poller.check(db)
