"""Loads that follow the board (docs/operations.md, "The load cache"): when the revision moved
since the answer a process holds, the answer is rebuilt from its bytes and the rows the journal
names, byte for byte what a fresh read gives; loads that miss one answer at the same time wait
for one read (single flight).  The status counters loadsRebuilt, loadsRead and loadsWaited say
which happened, so that a rebuild that silently never happens fails here."""

import json
import os
import random
import threading
import urllib.parse

import requests

import tbtest
from tbtest import describe, sync_post

# One process: every load meets the cache the previous one left.  Threads enough for a burst of
# concurrent loads and a spare (see test_680_status.py for MinSpareThreads).
MPM = """\
StartServers 1
ServerLimit 1
ThreadsPerChild 16
MinSpareThreads 1
MaxSpareThreads 32
MaxRequestWorkers 16
"""

STATUS = "<Location /tb-status>\n    SetHandler taskboard-status\n</Location>\n"

# The same stores without the cache: every load there is a fresh read.
FRESH = """\
<Location /api/fresh>
    SetHandler taskboard-load
    TaskBoardLoadCache Off
</Location>
"""

SEED = int(os.environ.get("TB_REBUILD_SEED", "52501"))
STEPS = int(os.environ.get("TB_REBUILD_STEPS", "300"))

TEXTS = ["plain", "with \"quotes\" and \\backslash", "ünïcødé ✓ 😀", "", "tab\there",
         "line\nbreak", "</script>", "x" * 90]


def raw_load(httpd, path: str, stores=None) -> requests.Response:
    """A load without requestId, its bytes as sent (no gzip: the cached and the read answer are
    compared as they are)."""
    package = {"type": "load"}
    if stores is not None:
        package["stores"] = stores
    p = urllib.parse.quote(json.dumps(package), safe="")
    r = httpd.get(f"{path}?data={p}", headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200, describe(r)
    return r


def status(httpd, path="/api/load") -> dict:
    r = requests.get(httpd.url("/tb-status?json"), headers={"Connection": "close"}, timeout=10)
    assert r.status_code == 200, describe(r)
    return {loc["path"]: loc for loc in tbtest.jloads(r.text)["locations"]}.get(path, {})


def counters(httpd) -> dict:
    st = status(httpd)
    return {k: st.get(k, 0) for k in ("loads", "cacheHits", "loadsRebuilt", "loadsRead",
                                      "loadsWaited")}


def a_task(httpd) -> int:
    """A task the board has now (the random edits before may have removed any)."""
    return tbtest.jloads(raw_load(httpd, "/api/fresh", ["tasks"]).text)["tasks"]["rows"][0]["id"]


class Edits:
    """Random sync packages over the sample board, from what the last fresh load shows."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.phantom = 0
        self.column_seq = 0

    def _phantom(self) -> str:
        self.phantom += 1
        return f"_p{self.phantom}"

    def package(self, board: dict) -> dict:
        rng = self.rng
        stores = {}

        def put(store, kind, record):
            stores.setdefault(store, {}).setdefault(kind, []).append(record)

        tasks = [t["id"] for t in board["tasks"]["rows"]]
        resources = [r["id"] for r in board["resources"]["rows"]]
        assignments = [a["id"] for a in board["assignments"]["rows"]]
        columns = [c["id"] for c in board["columns"]["rows"]]
        lanes = [s["id"] for s in board["swimlanes"]["rows"]]
        touched = set()
        # (eventId, resourceId) is unique
        pairs = {(a["eventId"], a["resourceId"]) for a in board["assignments"]["rows"]}

        def pick(store, ids):
            free = [i for i in ids if (store, i) not in touched]
            if not free:
                return None
            i = rng.choice(free)
            touched.add((store, i))
            return i

        for _ in range(rng.randint(1, 3)):
            op = rng.random()
            if op < 0.30 and tasks:
                t = pick("tasks", tasks)
                if t is None:
                    continue
                rec = {"id": t}
                # reordering by TaskBoardOrder weight, ties included
                rec["weight"] = rng.choice([rng.randint(0, 1000), 100, 300])
                if rng.random() < 0.5:
                    rec["name"] = rng.choice(TEXTS) or "n"
                if rng.random() < 0.3:
                    rec["status"] = rng.choice(["todo", "doing", "review", "done"])
                if rng.random() < 0.2:
                    rec["meta"] = rng.choice([None, {"a": [1, 2, {"b": "ü"}]}, [], "s"])
                if rng.random() < 0.2:
                    rec["startDate"] = rng.choice([None, "2025-01-02T03:04:05Z"])
                put("tasks", "updated", rec)
            elif op < 0.42:
                ph = self._phantom()
                put("tasks", "added", {"$PhantomId": ph, "name": rng.choice(TEXTS) or "n",
                                       "status": "todo", "weight": rng.randint(0, 1000)})
                if resources and rng.random() < 0.6:
                    put("assignments", "added", {"$PhantomId": self._phantom(), "eventId": ph,
                                                 "resourceId": rng.choice(resources)})
            elif op < 0.52 and len(tasks) > 2:
                t = pick("tasks", tasks)
                if t is not None:
                    put("tasks", "removed", {"id": t})      # its assignments cascade
            elif op < 0.62 and tasks and resources:
                pair = (rng.choice(tasks), rng.choice(resources))
                if pair not in pairs:
                    pairs.add(pair)
                    put("assignments", "added", {"$PhantomId": self._phantom(),
                                                 "eventId": pair[0], "resourceId": pair[1]})
            elif op < 0.70 and assignments:
                a = pick("assignments", assignments)
                if a is not None:
                    if rng.random() < 0.5:
                        put("assignments", "removed", {"id": a})
                    else:
                        put("assignments", "updated",
                            {"id": a, "units": rng.choice([0, 50, 100.5, 12.25])})
            elif op < 0.78 and resources:
                r = pick("resources", resources)
                if r is not None:
                    put("resources", "updated", {"id": r, "name": rng.choice(TEXTS) or "r",
                                                 "active": rng.random() < 0.5})
            elif op < 0.82:
                put("resources", "added", {"$PhantomId": self._phantom(), "name": "new res"})
            elif op < 0.85 and len(resources) > 3:
                r = pick("resources", resources)
                if r is not None:
                    put("resources", "removed", {"id": r})  # its assignments cascade
            elif op < 0.93 and columns:
                c = pick("columns", columns)
                if c is not None:
                    put("columns", "updated", {"id": c, "weight": rng.randint(0, 5),
                                               "text": rng.choice(TEXTS) or "c"})
            elif op < 0.96:
                self.column_seq += 1
                put("columns", "added", {"$PhantomId": self._phantom(),
                                         "id": f"col{self.column_seq}", "text": "Col",
                                         "weight": rng.randint(0, 5)})
            elif op < 0.98 and len(columns) > 2:
                c = pick("columns", [c for c in columns if c.startswith("col")])
                if c is not None:
                    put("columns", "removed", {"id": c})
            elif lanes:
                s = pick("swimlanes", lanes)
                if s is not None:
                    put("swimlanes", "updated", {"id": s, "weight": rng.randint(0, 3)})
        return {"type": "sync", "requestId": self.phantom, **stores}


class TestLoadRebuild:

    CONF = tbtest.sample_test_conf() + FRESH + STATUS + MPM
    SAMPLE_DATA = ("setup", "teardown")
    SAMPLE_EDGES = True

    def test_tb_525_01(self, httpd, db):
        # random edit sequences: after each sync, the load of the cached location (rebuilt from
        # the previous revision's answer) is byte-identical to a fresh read of the same revision
        rng = random.Random(SEED)
        edits = Edits(rng)
        before = counters(httpd)
        raw_load(httpd, "/api/load")                 # the first answer: read, then kept
        fresh = raw_load(httpd, "/api/fresh")
        moved = 0
        for step in range(STEPS):
            board = tbtest.jloads(fresh.text)
            package = edits.package(board)
            package["requestId"] = 10000 + step
            r = sync_post(httpd, package)
            assert r.status_code == 200, f"seed {SEED} step {step}: {describe(r)}"
            if tbtest.jloads(r.text)["revision"] != board["revision"]:
                moved += 1
            cached = raw_load(httpd, "/api/load")
            fresh = raw_load(httpd, "/api/fresh")
            assert cached.content == fresh.content, (
                f"seed {SEED} step {step} (TB_REBUILD_SEED={SEED} to repeat): the rebuilt answer "
                f"differs from a fresh read after {json.dumps(package)}\n"
                f"cached: {cached.text[:3000]}\nfresh:  {fresh.text[:3000]}")
        after = counters(httpd)
        print(f"\n[525 rebuild] seed {SEED}, {STEPS} steps, {moved} moved the revision: "
              f"{before} -> {after}")
        assert moved > STEPS * 0.9, moved
        # every load after a revision moved was rebuilt; only the first one read
        assert after["loadsRebuilt"] - before["loadsRebuilt"] == moved, (before, after)
        assert after["loadsRead"] - before["loadsRead"] == 1, (before, after)

    def test_tb_525_02(self, httpd, db):
        # a subset of the stores asked for has an answer (and a rebuild) of its own; a store
        # without changes is copied whole
        stores = ["columns", "tasks"]
        task = a_task(httpd)
        raw_load(httpd, "/api/load", stores)
        before = counters(httpd)
        for step, weight in enumerate((7, 3, 9)):
            r = sync_post(httpd, {"type": "sync", "requestId": 100 + step, "tasks": {
                "updated": [{"id": task, "weight": weight, "name": f"w{weight}"}]}})
            assert r.status_code == 200, describe(r)
            cached = raw_load(httpd, "/api/load", stores)
            assert cached.content == raw_load(httpd, "/api/fresh", stores).content
        after = counters(httpd)
        assert after["loadsRebuilt"] - before["loadsRebuilt"] == 3, (before, after)
        assert after["loadsRead"] == before["loadsRead"], (before, after)

    def test_tb_525_03(self, httpd, db):
        # a change the journal does not cover (a revision raised outside the module, without
        # journal rows): the load reads every store, and is right
        task = a_task(httpd)
        raw_load(httpd, "/api/load")
        before = counters(httpd)
        db.execute("UPDATE tasks SET name = 'outside' WHERE id = %s", (task,))  # raises the revision
        cached = raw_load(httpd, "/api/load")
        assert cached.content == raw_load(httpd, "/api/fresh").content
        assert b'"outside"' in cached.content
        after = counters(httpd)
        assert after["loadsRead"] - before["loadsRead"] == 1, (before, after)
        assert after["loadsRebuilt"] == before["loadsRebuilt"], (before, after)

    def test_tb_525_04(self, httpd, db):
        # single flight: loads that miss one answer at once wait for one read.  The read is held
        # up by a lock on the tasks table, so that all of them miss before it ends.
        task = a_task(httpd)
        raw_load(httpd, "/api/load")
        r = sync_post(httpd, {"type": "sync", "requestId": 400, "tasks": {
            "updated": [{"id": task, "weight": 401}]}})
        assert r.status_code == 200, describe(r)
        before = counters(httpd)
        n = 8
        bodies = []
        lock = tbtest.Db(db.port)
        lock.execute("LOCK TABLES tasks WRITE")
        try:
            def one():
                with requests.Session() as s:
                    bodies.append(s.get(httpd.url("/api/load"),
                                        headers={"Accept-Encoding": "identity"},
                                        timeout=30).content)
            threads = [threading.Thread(target=one) for _ in range(n)]
            for t in threads:
                t.start()
            # until the load that reads waits on the lock; then the others have time to come
            # and wait for it
            for _ in range(200):
                if lock.scalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                               "WHERE STATE LIKE 'Waiting for table%'"):
                    break
                threading.Event().wait(0.05)
            threading.Event().wait(0.5)
        finally:
            lock.execute("UNLOCK TABLES")
            lock.close()
        for t in threads:
            t.join()
        assert len(bodies) == n and len(set(bodies)) == 1, [len(b) for b in bodies]
        after = counters(httpd)
        print(f"\n[525 single flight] {before} -> {after}")
        read = (after["loadsRead"] - before["loadsRead"]
                + after["loadsRebuilt"] - before["loadsRebuilt"])
        assert read == 1, (before, after)
        assert after["loadsWaited"] - before["loadsWaited"] == n - 1, (before, after)
        assert after["cacheHits"] - before["cacheHits"] == n - 1, (before, after)


# ------------------------------------------------------------------------------------------------
# Every field type, through the prepared statements a rebuild reads changed rows with, against the
# text protocol of a full read (the sample store's types, and floating point besides).

VALUES_TABLE = """
CREATE TABLE rb_values (
    id INT AUTO_INCREMENT PRIMARY KEY,
    n_int BIGINT NULL, n_double DOUBLE NULL, n_float FLOAT NULL, n_dec DECIMAL(14,4) NULL,
    s VARCHAR(100) NULL, t MEDIUMTEXT NULL, b TINYINT(1) NULL, d DATE NULL,
    dt DATETIME(3) NULL, ts TIMESTAMP NULL DEFAULT NULL, j JSON NULL
) DEFAULT CHARSET=utf8mb4
"""

VALUES_CONF = """
<Location /vals>
    TaskBoardRevision options value name=revision
    TaskBoardJournal taskboard_journal
    <TaskBoardStore values>
        TaskBoardTable rb_values
        TaskBoardOrder n_double id
        TaskBoardField nInt    int      column=n_int
        TaskBoardField nDouble number   column=n_double
        TaskBoardField nFloat  number   column=n_float
        TaskBoardField nDec    number   column=n_dec
        TaskBoardField s       string   column=s
        TaskBoardField t       text     column=t
        TaskBoardField b       boolean  column=b
        TaskBoardField d       date     column=d
        TaskBoardField dt      datetime column=dt
        TaskBoardField ts      datetime column=ts
        TaskBoardField j       json     column=j
    </TaskBoardStore>
</Location>
<Location /vals/load>
    SetHandler taskboard-load
</Location>
<Location /vals/fresh>
    SetHandler taskboard-load
    TaskBoardLoadCache Off
</Location>
<Location /vals/sync>
    SetHandler taskboard-sync
</Location>
"""


def random_values(rng: random.Random) -> dict:
    return {
        "nInt": rng.choice([None, 0, -1, 2**53 - 1, rng.randint(-10**6, 10**6)]),
        "nDouble": rng.choice([None, 0.1, 1e-7, 123456.789, -2.5, 1e300, 3, 1 / 3]),
        "nFloat": rng.choice([None, 0.1, 1.5, -3.25, 16777217, 1 / 3]),
        "nDec": rng.choice([None, 0, 12.5, -0.0001, 1234567890.1234]),
        "s": rng.choice(TEXTS),
        "t": rng.choice(TEXTS + ["y" * 5000]),
        "b": rng.choice([None, True, False]),
        "d": rng.choice([None, "2024-02-29", "1999-12-31"]),
        "dt": rng.choice([None, "2024-02-29T23:59:59.123Z", "2001-01-01T00:00:00Z"]),
        "ts": rng.choice([None, "2024-06-01T12:00:00Z"]),
        "j": rng.choice([None, {"k": [1, 2.5, None, "ü"]}, [], "text", 7]),
    }


class TestLoadRebuildValues:

    CONF = tbtest.sample_test_conf() + VALUES_CONF + STATUS + MPM
    SAMPLE_DATA = ("setup", "teardown")

    @classmethod
    def prepare_class(cls, db):
        db.execute("DROP TABLE IF EXISTS rb_values")
        db.execute(VALUES_TABLE)

    @classmethod
    def cleanup_class(cls, db):
        db.execute("DROP TABLE IF EXISTS rb_values")

    def test_tb_525_10(self, httpd, db):
        rng = random.Random(SEED + 10)
        ids = []
        revision = tbtest.jloads(raw_load(httpd, "/vals/load").text)["revision"]
        before = status(httpd, "/vals/load")
        moved = 0
        for step in range(60):
            stores = {}
            if len(ids) < 3 or rng.random() < 0.3:
                stores.setdefault("added", []).append(
                    {"$PhantomId": f"_v{step}", **random_values(rng)})
            if ids and rng.random() < 0.7:
                stores.setdefault("updated", []).append(
                    {"id": rng.choice(ids), **random_values(rng)})
            if len(ids) > 4 and rng.random() < 0.15:
                gone = rng.choice(ids)
                stores.setdefault("removed", []).append({"id": gone})
                ids.remove(gone)
                if stores.get("updated", [{}])[0].get("id") == gone:
                    del stores["updated"]
            r = sync_post(httpd, {"type": "sync", "requestId": 20000 + step, "values": stores},
                          path="/vals/sync")
            assert r.status_code == 200, f"seed {SEED} step {step}: {describe(r)}"
            if tbtest.jloads(r.text)["revision"] != revision:
                revision = tbtest.jloads(r.text)["revision"]
                moved += 1
            ids += [row["id"] for row in tbtest.jloads(r.text).get("values", {}).get("rows", [])
                    if "$PhantomId" in row]
            cached = raw_load(httpd, "/vals/load")
            fresh = raw_load(httpd, "/vals/fresh")
            assert cached.content == fresh.content, (
                f"seed {SEED} step {step}: {json.dumps(stores)}\n"
                f"cached: {cached.text[:2000]}\nfresh:  {fresh.text[:2000]}")
        after = status(httpd, "/vals/load")
        print(f"\n[525 values] {moved} moved the revision, "
              f"{after['loadsRebuilt'] - before.get('loadsRebuilt', 0)} rebuilt")
        assert moved > 30, moved
        assert after["loadsRebuilt"] - before.get("loadsRebuilt", 0) == moved, (before, after)


# ------------------------------------------------------------------------------------------------
# Scoped boards (conf/taskboard-boards.conf): each board's answer rebuilt from its own journal.

from test_710_boards import BOARDS_SQL, boards_conf, seed  # noqa: E402

BOARDS_FRESH = """
<LocationMatch "^/boards/[0-9]+/fresh$">
    SetHandler taskboard-load
    TaskBoardLoadCache Off
</LocationMatch>
"""


class TestLoadRebuildBoards:

    CONF = boards_conf() + BOARDS_FRESH + STATUS + MPM

    @classmethod
    def prepare_class(cls, env):
        env.db_load(BOARDS_SQL)

    def test_tb_525_20(self, httpd, db):
        seed(db)
        rng = random.Random(SEED + 20)
        for board in (1, 2):
            raw_load(httpd, f"/boards/{board}/load")
        st = status(httpd, r"^/boards/[0-9]+/load$")
        before = st.get("loadsRebuilt", 0)
        moved = 0
        for step in range(80):
            board = rng.choice((1, 2))
            now = tbtest.jloads(raw_load(httpd, f"/boards/{board}/fresh").text)
            tasks = [t["id"] for t in now["tasks"]["rows"]]
            resources = [r["id"] for r in now["resources"]["rows"]]
            pairs = {(a["eventId"], a["resourceId"]) for a in now["assignments"]["rows"]}
            package = {"type": "sync", "requestId": 30000 + step}
            op = rng.random()
            if op < 0.4 and tasks:
                package["tasks"] = {"updated": [{"id": rng.choice(tasks),
                                                 "weight": rng.randint(0, 50),
                                                 "name": rng.choice(TEXTS) or "n"}]}
            elif op < 0.65 or len(tasks) < 3:
                package["tasks"] = {"added": [{"$PhantomId": f"_b{step}", "name": "new",
                                               "weight": rng.randint(0, 50),
                                               "parentId": rng.choice(tasks + [None])}]}
            elif op < 0.8:
                package["tasks"] = {"removed": [{"id": rng.choice(tasks)}]}  # children cascade
            else:
                pair = (rng.choice(tasks), rng.choice(resources))
                if pair in pairs:
                    continue
                package["assignments"] = {"added": [{"$PhantomId": f"_a{step}",
                                                     "eventId": pair[0], "resourceId": pair[1]}]}
            r = sync_post(httpd, package, path=f"/boards/{board}/sync")
            assert r.status_code == 200, f"seed {SEED} step {step}: {describe(r)}"
            moved += 1
            for b in (1, 2):
                cached = raw_load(httpd, f"/boards/{b}/load")
                fresh = raw_load(httpd, f"/boards/{b}/fresh")
                assert cached.content == fresh.content, (
                    f"seed {SEED} step {step} board {b}: {json.dumps(package)}\n"
                    f"cached: {cached.text[:2000]}\nfresh:  {fresh.text[:2000]}")
        after = status(httpd, r"^/boards/[0-9]+/load$").get("loadsRebuilt", 0)
        print(f"\n[525 boards] {moved} syncs, {after - before} rebuilt")
        # the board that changed is rebuilt; the other one is a cache hit
        assert after - before == moved, (before, after, moved)
