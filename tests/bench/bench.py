#!/usr/bin/python3
"""The benchmark of mod_taskboard: make -f Makefile.apxs bench (see tests/bench/README.md).

One MariaDB and one httpd (the demo configuration plus bench.conf) for the whole run, on free
loopback ports, state in $TB_STATE_DIR (default state/bench); everything is stopped by pid
however the run ends.  Boards S, M, L and XL are generated one at a time with make_board.sh.

  load       S, M, L at each TB_BENCH_LOAD_C, the revision unchanged, against the same bytes
             served as a static file by the same httpd
  gzip       the same with Accept-Encoding: gzip, against a pre-compressed static file
  changing   the same while a writer raises the revision in a tight loop (the static file too)
  xl         XL: the answer checked against the database, throughput at c=4, and the peak RSS of
             the httpd children above their idle RSS
  sync       on M: card move, new card with an assignment, 10-change batch, against
             sync_direct (the same statements and transaction issued directly over libmariadb)

Module and baseline runs alternate; the table shows medians over TB_BENCH_REPS runs.  The bench
fails only on errors (a non-2xx answer, a socket error, a wrong answer), never on a missed
target.
"""

import contextlib
import dataclasses
import difflib
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from typing import Callable, List, Optional

from benchlib import (REPO, BenchError, Db, MemoryPeak, RevisionWriter, db_name, env_int,
                      env_list, error_log_end, error_log_since, finish, idle_rss, quiesce,
                      run_client, section_end, servers, tbctl, where, wrk)

HERE = os.path.dirname(os.path.abspath(__file__))
LOAD_LUA = os.path.join(HERE, "load.lua")
SYNC_LUA = os.path.join(HERE, "sync.lua")
SYNC_DIRECT = os.environ.get("TB_BENCH_SYNC_DIRECT", os.path.join(HERE, "sync_direct"))

STORES = ["tasks", "resources", "assignments"]
# two requestIds of the 14 digits that load.lua and sync.lua use, for the saved answers
REQUEST_ID, OTHER_REQUEST_ID = 10000000000000, 19999999999999
GZIP_HEADER = "Accept-Encoding: gzip"

# the targets: (scenario kind, board) -> lowest module/baseline throughput ratio
RATIO_TARGETS = {("load", "M"): 0.70, ("changing", "M"): 0.25, ("gzip", "M"): 0.50,
                 ("move", "M"): 0.80}
XL_MIB_TARGET = 32

SYNC_SCENARIOS = {"move": "sync: card move", "add": "sync: new card + assignment",
                  "batch": "sync: 10-change batch"}
# the scenarios of sync-statements.log: one sync each through the module and sync_direct
RECORDED_SCENARIOS = {**SYNC_SCENARIOS, "stale": "sync: card move, one revision behind"}
LOAD_SCENARIOS = {"load": ("load", "static file"),
                  "gzip": ("load, gzip", "static .gz file"),
                  "changing": ("load, revision changing", "static file")}


def bench_conf(root: str) -> str:
    """What the bench adds to the demo configuration: a sync location without the revision
    check (the threads of one wrk run send each other's revisions), and .gz files served
    as gzip-encoded JSON for the pre-compressed baseline."""
    return f"""# tests/bench: card moves of many clients at once; the last writer wins
<Location /api/bench-sync>
    SetHandler taskboard-sync
    TaskBoardConflictPolicy off
</Location>

# load-M.json.gz is load-M.json, pre-compressed: Content-Type application/json,
# Content-Encoding gzip
<Directory "{root}/htdocs">
    RemoveType .gz
    AddEncoding gzip .gz
</Directory>
"""


# ---------------------------------------------------------------------------------------------
# settings

@dataclasses.dataclass
class Settings:
    """The knobs, from TB_BENCH_* (see README.md)."""
    reps: int
    seconds: int
    xl_seconds: int
    parts: List[str]
    load_c: List[int]
    gzip_c: int
    sync_c: List[int]
    xl_c: int
    changing_boards: List[str]
    gzip_boards: List[str]
    sizes: dict
    pin: bool

    @classmethod
    def from_env(cls):
        sizes = dict(kv.split("=") for kv in
                     env_list("TB_BENCH_SIZES", "S=100,M=1000,L=10000,XL=100000"))
        return cls(reps=env_int("TB_BENCH_REPS", 3),
                   seconds=env_int("TB_BENCH_SECONDS", 3),
                   xl_seconds=env_int("TB_BENCH_XL_SECONDS", 5),
                   parts=env_list("TB_BENCH_PARTS", "load,gzip,changing,xl,sync"),
                   load_c=[int(c) for c in env_list("TB_BENCH_LOAD_C", "1,8,32")],
                   gzip_c=env_int("TB_BENCH_GZIP_C", 8),
                   sync_c=[int(c) for c in env_list("TB_BENCH_SYNC_C", "8,1")],
                   xl_c=env_int("TB_BENCH_XL_C", 4),
                   changing_boards=env_list("TB_BENCH_CHANGING", "M,L"),
                   gzip_boards=env_list("TB_BENCH_GZIP", "S,M,L"),
                   sizes={k: int(v) for k, v in sizes.items()},
                   pin=os.environ.get("TB_BENCH_PIN", "0") == "1")

    def boards_needed(self) -> List[str]:
        """The boards the selected parts use, in the order S, M, L, XL."""
        need = set()
        if "load" in self.parts:
            need |= {"S", "M", "L"}
        if "gzip" in self.parts:
            need |= set(self.gzip_boards)
        if "changing" in self.parts:
            need |= set(self.changing_boards)
        if "xl" in self.parts:
            need.add("XL")
        if "sync" in self.parts:
            need.add("M")
        return [b for b in self.sizes if b in need]


# ---------------------------------------------------------------------------------------------
# results

@dataclasses.dataclass
class Sample:
    """One run of one side: throughput, latency, and the server's statement counters."""
    rps: float
    p50: float                  # ms
    p99: float                  # ms
    requests: int               # what the counters are divided by
    bytes: int = 0              # received, headers included
    counters: dict = dataclasses.field(default_factory=dict)     # deltas
    extra: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_tb(cls, tb: dict, seconds_key="duration_us"):
        """From the TB line of wrkreport.lua."""
        n = int(tb["requests"])
        return cls(rps=n / (tb[seconds_key] / 1e6), p50=tb["p50_us"] / 1e3,
                   p99=tb["p99_us"] / 1e3, requests=n, bytes=int(tb["bytes"]), extra=tb)

    def per_request(self, counter: str) -> float:
        return self.counters.get(counter, 0) / max(1, self.requests)


@dataclasses.dataclass
class Row:
    """One line of the table: the module's runs and the baseline's runs of one scenario."""
    scenario: str
    board: str
    conc: int
    baseline: str
    module: List[Sample]
    base: List[Sample]
    target: str = ""
    notes: List[str] = dataclasses.field(default_factory=list)

    @staticmethod
    def median(samples: List[Sample], attr: str) -> float:
        return statistics.median(getattr(s, attr) if not attr.startswith("/")
                                 else s.per_request(attr[1:]) for s in samples)

    @property
    def ratio(self) -> float:
        return self.median(self.module, "rps") / self.median(self.base, "rps")

    def set_ratio_target(self, lowest: float):
        self.target = f"≥ {lowest:.2f} {'pass' if self.ratio >= lowest else 'MISS'}"


class Bench:
    """The run: the servers, the database connection, and one method per scenario."""

    def __init__(self, settings: Settings, env: dict, root: str, base: str):
        self.s = settings
        self.env, self.root, self.base = env, root, base
        self.db = Db(env)
        self.boards = {}
        self.rows: List[Row] = []
        self.memory = None
        self.statements_log = None
        self.statement_counts = {}
        self._nonce = 0
        self.client_prefix = ["taskset", "-c", "0"] if settings.pin else []
        self.version = module_version(env)
        self.access_log = os.path.join(root, "logs", "access_log")
        # a run logs a few million requests; httpd appends (O_APPEND), so emptying is safe
        with open(self.access_log, "w"):
            pass

    def nonce(self) -> int:
        """A number of its own for every client run: it keeps requestIds and $PhantomIds of
        different runs apart."""
        self._nonce += 1
        return self._nonce

    # -- boards

    def use_board(self, name: str):
        """Replaces the board by a generated one of that size, checks the module's answer
        against the database, and saves it (and its gzip form) as static files."""
        tasks = self.s.sizes[name]
        board = subprocess.run([os.path.join(HERE, "make_board.sh"), str(tasks)], check=True,
                               capture_output=True).stdout
        tbctl(self.env, "db-sql", stdin=board)
        counts = {t: self.db.value(f"SELECT COUNT(*) FROM `{t}`") for t in STORES}
        answer = self.fetch(REQUEST_ID)
        check_answer(name, answer, counts)
        if len(self.fetch(OTHER_REQUEST_ID)) != len(answer):
            raise BenchError(f"board {name}: answers to requestIds of equal length differ "
                             "in size")
        self.save(f"load-{name}.json", answer)
        info = {"tasks": counts["tasks"], "resources": counts["resources"],
                "assignments": counts["assignments"], "bytes": len(answer)}
        if name in self.s.gzip_boards and "gzip" in self.s.parts:
            compressed = self.fetch_gzip(REQUEST_ID)
            if gzip.decompress(compressed) != answer:
                raise BenchError(f"board {name}: the gzip answer is not the plain answer")
            self.save(f"load-{name}.json.gz", compressed)
            info["gzip_bytes"] = len(compressed)
        self.boards[name] = info
        return info

    def load_url(self, request_id: int, stores=STORES) -> str:
        package = {"type": "load", "requestId": request_id, "stores": stores}
        return (f"{self.base}/api/load?data="
                + urllib.parse.quote(json.dumps(package, separators=(",", ":")), safe=""))

    def fetch(self, request_id: int, gzip_ok=False, stores=STORES) -> bytes:
        """The module's load answer, raw (still compressed with gzip_ok)."""
        headers = {"Accept-Encoding": "gzip"} if gzip_ok else {}
        req = urllib.request.Request(self.load_url(request_id, stores), headers=headers)
        with urllib.request.urlopen(req, timeout=120) as r:
            body = r.read()
            return body if r.headers.get("Content-Encoding") == "gzip" or not gzip_ok else None

    def fetch_gzip(self, request_id: int) -> bytes:
        """The module's gzip answer.  Only answers from a process's cache are compressed, and
        the first load in each httpd child reads the database, so this may take a few tries."""
        for _ in range(20):
            body = self.fetch(request_id, gzip_ok=True)
            if body is not None:
                return body
        raise BenchError("20 loads with Accept-Encoding: gzip in a row were not compressed")

    def save(self, name: str, data: bytes):
        with open(os.path.join(self.root, "htdocs", name), "wb") as f:
            f.write(data)

    # -- measuring

    def counted(self, run: Callable[[], Sample], writer=None) -> Sample:
        """Runs run() between two readings of the server's statement counters and keeps the
        differences in the sample (less the reading itself and the writer's UPDATEs)."""
        before, w0 = self.db.counters(), writer.count if writer else 0
        sample = run()
        after, w1 = self.db.counters(), writer.count if writer else 0
        sample.counters = {k: after[k] - before[k] for k in after}
        sample.counters["Questions"] -= 1 + (w1 - w0)
        return sample

    def alternate(self, module: Callable[[], Sample], baseline: Callable[[], Sample]):
        """module, baseline, module, baseline, ...: TB_BENCH_REPS runs of each."""
        mod, base = [], []
        for _ in range(self.s.reps):
            mod.append(module())
            base.append(baseline())
        return mod, base

    def load_run(self, path: str, conc: int, seconds: int, gzip_ok=False, count=False,
                 writer=None) -> Sample:
        """One wrk run of load.lua against path (/api/load or a static copy).  The statement
        counters are divided by the requests httpd handled (its access log), which includes
        the ones still under way when wrk stopped."""
        args = [path, self.nonce()] + (["count"] if count else [])
        headers = [GZIP_HEADER] if gzip_ok else []
        offset = os.path.getsize(self.access_log)

        def run():
            tb = wrk(self.base + "/", LOAD_LUA, args, conc, seconds, headers,
                     self.client_prefix)
            quiesce(self.access_log)
            sample = Sample.from_tb(tb)
            sample.requests = self.handled(offset, path)
            return sample
        return self.counted(run, writer)

    def handled(self, offset: int, path: str) -> int:
        """The GET requests for path in the access log after byte offset."""
        with open(self.access_log, "rb") as f:
            f.seek(offset)
            return f.read().count(f'"GET {path}?'.encode())

    # -- load scenarios

    def load_row(self, board: str, conc: int, kind: str) -> Row:
        """kind: load (revision unchanged), gzip, or changing (a writer raises the revision
        during the module's and the static file's runs alike)."""
        scenario, baseline = LOAD_SCENARIOS[kind]
        static = f"/load-{board}.json" + (".gz" if kind == "gzip" else "")
        gz, count = kind == "gzip", kind == "changing"
        with (RevisionWriter(self.env) if count else contextlib.nullcontext()) as writer:
            mod, base = self.alternate(
                lambda: self.load_run("/api/load", conc, self.s.seconds, gz, count, writer),
                lambda: self.load_run(static, conc, self.s.seconds, gz, count, writer))
        row = Row(scenario, board, conc, baseline, mod, base)
        sizes = self.boards[board]
        if gz:
            plain = check_sizes(row, sizes["gzip_bytes"], sizes["bytes"])
            if plain:
                row.notes.append(f"about {plain} module answers uncompressed (cache misses)")
        else:
            check_sizes(row, sizes["bytes"])
        if count:
            seen = [s.extra["changed"] / max(1, s.extra["responses"] - s.extra["threads"])
                    for s in mod]
            row.notes.append(f"new revision in {statistics.median(seen):.0%} of loads; "
                             f"writer {writer.rate:,.0f} UPDATE/s")
        if (kind, board) in RATIO_TARGETS:
            row.set_ratio_target(RATIO_TARGETS[(kind, board)])
        return row

    # -- XL

    def xl_row(self, board: str) -> Row:
        """Throughput at TB_BENCH_XL_C against the static file, and the peak RSS of the httpd
        children above their idle RSS during the module's runs."""
        conc = self.s.xl_c
        self.fetch(REQUEST_ID, stores=["resources"])        # the warm-up: one small load
        idle = idle_rss(self.root)

        def module():
            with MemoryPeak(self.root) as mem:
                sample = self.load_run("/api/load", conc, self.s.xl_seconds)
            sample.extra["hwm_kib"] = mem.above_idle(idle, mem.hwm)
            sample.extra["sampled_kib"] = mem.above_idle(idle, mem.sampled)
            sample.extra["after_kib"] = mem.above_idle(idle, mem.after)
            sample.extra["children"] = len(mem.hwm)
            return sample

        mod, base = self.alternate(
            module, lambda: self.load_run(f"/load-{board}.json", conc, self.s.xl_seconds))
        row = Row("load", board, conc, "static file", mod, base)
        check_sizes(row, self.boards[board]["bytes"])
        hwm = max(s.extra["hwm_kib"] for s in mod) / 1024
        sampled = max(s.extra["sampled_kib"] for s in mod) / 1024
        after = max(s.extra["after_kib"] for s in mod) / 1024
        per_load = hwm / conc
        self.memory = {"idle_mib": [round(v / 1024, 1) for v in idle.values()],
                       "peak_above_idle_mib": round(hwm, 1),
                       "sampled_above_idle_mib": round(sampled, 1),
                       "after_above_idle_mib": round(after, 1),
                       "per_load_mib": round(per_load, 1), "conc": conc,
                       "children": max(s.extra["children"] for s in mod)}
        row.target = (f"< {XL_MIB_TARGET} MiB/load "
                      f"{'pass' if per_load < XL_MIB_TARGET else 'MISS'}")
        row.notes.append(f"peak {per_load:.1f} MiB per concurrent load above idle")
        return row

    # -- sync scenarios

    def seeds(self, conc: int, nonce: int) -> List[int]:
        """Tasks for the first batches of a wrk run to remove: two per connection, and two
        spare per wrk thread."""
        n = 2 * conc + 2 * min(2, conc)
        name = f"Bench seed {nonce}"
        self.db.rows("INSERT INTO `tasks` (`name`, `status`) "
                     f"SELECT %s, 'todo' FROM seq_1_to_{n}", (name,))
        return [r[0] for r in self.db.rows("SELECT `id` FROM `tasks` WHERE `name` = %s",
                                           (name,))]

    def sync_module(self, scenario: str, conc: int) -> Sample:
        """One wrk run of sync.lua; the statement counters are divided by the syncs the
        revision says were applied."""
        board, nonce = self.boards["M"], self.nonce()
        seeds = self.seeds(conc, nonce) if scenario == "batch" else []
        rev0 = self.db.revision()
        args = ["/api/bench-sync", scenario, nonce, rev0, board["tasks"], board["resources"],
                min(2, conc), ",".join(map(str, seeds))]

        def run():
            tb = wrk(self.base + "/", SYNC_LUA, args, conc, self.s.seconds, (),
                     self.client_prefix)
            self.settle()
            return Sample.from_tb(tb)
        sample = self.counted(run)
        applied = self.db.revision() - rev0
        answered = int(sample.extra["responses"])
        # syncs under way when wrk stopped, or whose connection httpd closed, went unanswered
        if not answered <= applied <= answered + conc + sample.extra["socket_errors"]:
            raise BenchError(f"sync {scenario}: {answered} answers but the revision rose by "
                             f"{applied}")
        if sample.extra["short"]:
            raise BenchError(f"sync batch: {int(sample.extra['short'])} batches had no task "
                             "of their own left to remove")
        sample.requests = applied
        return sample

    def settle(self):
        """Waits until the revision has not moved for 200 ms: httpd finishes the syncs that
        were under way when wrk stopped, after wrk has gone."""
        last, still = self.db.revision(), 0
        while still < 4:
            time.sleep(0.05)
            now = self.db.revision()
            still = still + 1 if now == last else 0
            last = now

    def sync_direct_cmd(self, scenario: str, threads: int, extra=()) -> List[str]:
        board = self.boards["M"]
        # over the database's unix socket, as the module's connections (the demo's DBDParams)
        return [*self.client_prefix, SYNC_DIRECT,
                "--socket", os.path.join(self.env["TB_STATE_DIR"], "mariadb", "mysqld.sock"),
                "--user", self.env.get("TB_DB_USER", "taskboard"),
                "--password", self.env.get("TB_DB_PASS", "taskboard"),
                "--database", db_name(self.env), "--threads", str(threads),
                "--seconds", str(self.s.seconds), "--scenario", scenario,
                "--tasks", str(board["tasks"]), "--resources", str(board["resources"]),
                "--nonce", str(self.nonce()), *extra]

    def sync_direct(self, scenario: str, conc: int) -> Sample:
        """One run of sync_direct with as many threads as wrk has connections, in as many
        clients (sharing the highest revision seen) as wrk has threads: like sync.lua's, its
        syncs carry that revision, and are behind when other clients' syncs came first."""
        rev0 = self.db.revision()
        cmd = self.sync_direct_cmd(scenario, conc, ["--revision", str(rev0),
                                                    "--clients", str(min(2, conc))])

        def run():
            tb = run_client(cmd)
            return Sample(rps=tb["tps"], p50=tb["p50_ms"], p99=tb["p99_ms"],
                          requests=int(tb["transactions"]), extra=tb)
        sample = self.counted(run)
        # connecting: SET NAMES, one prepare per statement, the batch's seed INSERTs
        for k, v in (("Questions", "setup_questions"), ("Com_stmt_prepare", "setup_prepares")):
            sample.counters[k] -= int(sample.extra[v])
        if self.db.revision() - rev0 != sample.requests:
            raise BenchError(f"sync_direct {scenario}: {sample.requests} transactions but the "
                             f"revision rose by {self.db.revision() - rev0}")
        return sample

    def stale_note(self, row: Row):
        """How far behind sync_direct's syncs were: the module's are about as far behind (the
        same number of clients), and statements/req shows what it cost both."""
        stale = statistics.median(s.extra["stale"] / max(1, s.requests) for s in row.base)
        caught = statistics.median(s.extra["caught_up"] / max(1, s.requests) for s in row.base)
        if stale >= 0.005:
            row.notes.append(f"baseline: {stale:.0%} of syncs behind, {caught:.1f} records of "
                             "others read back per sync")

    def post_sync(self, changes: dict) -> dict:
        """One sync through the bench's sync location; its answer."""
        body = json.dumps({"type": "sync", "requestId": 10000000000000 + self.nonce(),
                           **changes}).encode()
        req = urllib.request.Request(f"{self.base}/api/bench-sync", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def example_sync(self, scenario: str) -> dict:
        """One sync of the scenario, shaped like sync.lua's."""
        tag = f"{self.nonce()}_0_0"
        task = {"$PhantomId": f"t{tag}", "name": "Bench card", "status": "todo"}
        updated = [{"id": i, "status": "review", "weight": self.nonce() * 100000}
                   for i in range(1, 7)]
        if scenario == "move":
            return {"tasks": {"updated": updated[:1]}}
        if scenario == "add":
            return {"tasks": {"added": [task]}, "assignments": {"added": [
                {"$PhantomId": f"a{tag}", "eventId": f"t{tag}", "resourceId": 1}]}}
        earlier = self.post_sync({"tasks": {"added": [dict(task, **{"$PhantomId": f"e{tag}{x}"})
                                                      for x in "xy"]}})
        return {"tasks": {"added": [dict(task, **{"$PhantomId": f"b{tag}{x}"}) for x in "xy"],
                          "updated": updated,
                          "removed": [{"id": r["id"]} for r in earlier["tasks"]["rows"]]}}

    def record_statements(self):
        """Sends one sync of each scenario through the module, and runs one through sync_direct,
        with MariaDB's general log on; writes what each issued to
        $TB_STATE_DIR/sync-statements.log and checks that sync_direct issued the module's
        statements in the module's order (values aside, and what follows COMMIT: the module's
        occasional pruning).  One more scenario, a card move one revision behind, shows what a
        stale sync adds (the journal read, the other client's record read back).  A difference fails the bench: the baseline has to be
        brought up to date with the module."""
        log = os.path.join(self.env["TB_STATE_DIR"], "mariadb", "general.log")
        out = os.path.join(self.env["TB_STATE_DIR"], "sync-statements.log")
        examples = {scenario: self.example_sync(scenario) for scenario in SYNC_SCENARIOS}
        with open(log, "w"):
            pass
        self.db.rows("SET GLOBAL general_log_file = %s", (log,))
        self.db.rows("SET GLOBAL general_log = 1")
        try:
            for scenario in RECORDED_SCENARIOS:
                if scenario == "stale":
                    # another client moves a card, then this one moves another, one revision
                    # behind; sync_direct then moves a third, one revision behind too
                    self.db.rows("SELECT %s", ("scenario stale other",))
                    self.post_sync({"tasks": {"updated": [{"id": 7, "status": "done",
                                                           "weight": self.nonce()}]}})
                    changes = {"revision": self.db.revision() - 1, **examples["move"]}
                else:
                    changes = examples[scenario]
                self.db.rows("SELECT %s", (f"scenario {scenario} module",))
                self.post_sync(changes)
                direct = ["--revision", str(self.db.revision() - 1)] if scenario == "stale" else []
                self.db.rows("SELECT %s", (f"scenario {scenario} direct",))
                run_client(self.sync_direct_cmd("move" if scenario == "stale" else scenario, 1,
                                                ["--syncs", "1", *direct]))
            self.db.rows("SELECT %s", ("scenario end",))
        finally:
            self.db.rows("SET GLOBAL general_log = 0")
        own = self.db.value("SELECT CONNECTION_ID()")
        issued, key = {}, None
        with open(log, errors="replace") as f, open(out, "w") as o:
            for line in f:
                m = re.match(r"^(?:\d{6}\s+[\d:]+)?\s+(\d+) (Query|Execute|Prepare)\t(.*)", line)
                if m and int(m.group(1)) == own and "scenario " in m.group(3):
                    key = tuple(m.group(3).split("scenario ")[1].strip("'").split())
                    if len(key) == 2:
                        issued[key] = []
                        side = {"module": "the module", "direct": "sync_direct",
                                "other": "the other client's sync, through the module"}[key[1]]
                        o.write(f"\n-- {RECORDED_SCENARIOS[key[0]]}: {side}\n")
                elif m and int(m.group(1)) != own and key in issued:
                    o.write(f"{m.group(2)}\t{m.group(3)}\n")
                    if m.group(2) != "Prepare":
                        issued[key].append(m.group(3))
        self.statements_log = out
        self.statement_counts = {}
        for scenario, name in RECORDED_SCENARIOS.items():
            module = one_sync(issued.get((scenario, "module"), []))
            direct = one_sync(issued.get((scenario, "direct"), []))
            same = list(map(normalized, module)) == list(map(normalized, direct))
            if not module or not same:
                diff = difflib.unified_diff(list(map(normalized, module)),
                                            list(map(normalized, direct)), "module",
                                            "sync_direct", lineterm="", n=1)
                raise BenchError(f"{name}: sync_direct does not issue the module's statements "
                                 f"(see {out}):\n" + "\n".join(list(diff)[:40]))
            self.statement_counts[scenario] = (len(module), len(direct))

    def sync_row(self, scenario: str, conc: int) -> Row:
        """The scenario through the module and through sync_direct, alternately."""
        mod, base = self.alternate(lambda: self.sync_module(scenario, conc),
                                   lambda: self.sync_direct(scenario, conc))
        row = Row(SYNC_SCENARIOS[scenario], "M", conc, "direct SQL (C)", mod, base)
        self.stale_note(row)
        if (scenario, "M") in RATIO_TARGETS:
            row.set_ratio_target(RATIO_TARGETS[(scenario, "M")])
        return row

    # -- the whole run

    def run(self):
        """Every selected scenario, board by board."""
        for board in self.s.boards_needed():
            self.use_board(board)
            progress(f"board {board}: {self.boards[board]}")
            for kind, conc in self.load_plan(board):
                self.add(self.load_row(board, conc, kind))
            if board == "XL" and "xl" in self.s.parts:
                self.add(self.xl_row(board))
            if board == "M" and "sync" in self.s.parts:
                self.record_statements()
                for conc in self.s.sync_c:
                    for scenario in SYNC_SCENARIOS:
                        self.add(self.sync_row(scenario, conc))

    def load_plan(self, board: str):
        """(kind, concurrency) of the load scenarios on this board; the revision-changing ones
        last, since they churn the caches."""
        plan = []
        if "load" in self.s.parts and board in ("S", "M", "L"):
            plan += [("load", c) for c in self.s.load_c]
        if "gzip" in self.s.parts and board in self.s.gzip_boards:
            plan.append(("gzip", self.s.gzip_c))
        if "changing" in self.s.parts and board in self.s.changing_boards:
            plan += [("changing", c) for c in self.s.load_c]
        return plan

    def add(self, row: Row):
        self.rows.append(row)
        progress(f"{row.scenario} {row.board} c={row.conc}: "
                 f"module {Row.median(row.module, 'rps'):,.0f}/s, "
                 f"{row.baseline} {Row.median(row.base, 'rps'):,.0f}/s, "
                 f"ratio {row.ratio:.2f} {row.target}")


# ---------------------------------------------------------------------------------------------
# checks

def normalized(statement: str) -> str:
    """A statement of the general log without its values (the module binds every value as a
    string, sync_direct numbers as numbers)."""
    statement = re.sub(r"'(?:[^'\\]|\\.)*'", "?", statement)
    return re.sub(r"\b\d+\b", "?", statement)


def one_sync(statements: List[str]) -> List[str]:
    """The statements of one sync in a general log excerpt: from the replay lookup to the first
    COMMIT (sync_direct's connection set-up before, the module's occasional pruning after)."""
    start = next((i for i, s in enumerate(statements)
                  if s.startswith("SELECT `response` FROM `taskboard_requests`")), None)
    if start is None:
        return []
    end = next((i for i, s in enumerate(statements) if i > start and s == "COMMIT"),
               len(statements) - 1)
    return statements[start:end + 1]


def check_answer(board: str, answer: bytes, counts: dict):
    """The answer parses, and every store has all the rows of its table."""
    try:
        doc = json.loads(answer)
    except ValueError as e:
        raise BenchError(f"board {board}: the load answer is not JSON: {e}")
    if doc.get("success") is not True:
        raise BenchError(f"board {board}: the load failed: {answer[:300]!r}")
    for store, count in counts.items():
        rows, total = len(doc[store]["rows"]), doc[store]["total"]
        if rows != count or total != count:
            raise BenchError(f"board {board}: {store} has {rows} rows (total {total}), "
                             f"the table {count}")


def check_sizes(row: Row, body: int, plain: Optional[int] = None) -> int:
    """Every answer of every run, the module's and the static file's, had the size of the saved
    answer (body bytes), give or take the headers and chunked encoding: wrk counts the bytes of
    the answers still under way when it stops, but not their requests.  In the gzip scenario
    (plain: the uncompressed size) the module may also answer uncompressed: only cached answers
    are compressed, and the first load in a new httpd child reads the database.  Returns the
    estimated number of such answers."""
    uncompressed = 0
    for samples, largest in ((row.module, plain or body), (row.base, body)):
        for s in samples:
            answers = int(s.extra["requests"])
            low, high = answers * body, (answers + row.conc) * (largest * 1.002 + 600)
            if not low <= s.bytes <= high:
                raise BenchError(f"{row.scenario} {row.board} c={row.conc}: {s.bytes} bytes in "
                                 f"{answers} answers of {body} bytes")
            if largest != body:
                excess = s.bytes - answers * (body + 600)
                uncompressed += max(0, round(excess / (largest - body)))
    return uncompressed


# ---------------------------------------------------------------------------------------------
# the report

def progress(msg: str):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def cpu_model() -> str:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def module_version(env: dict) -> str:
    """The commit, whether mod_taskboard/ differs from it, and when the module httpd loads was
    built: read when httpd starts, since the sources may change while the bench runs."""
    sha = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "-C", REPO, "diff", "--quiet", "HEAD", "--",
                            "mod_taskboard"]).returncode != 0
    module = env.get("TB_MODULE", os.path.join(REPO, "mod_taskboard", ".libs",
                                               "mod_taskboard.so"))
    built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(module)))
    return (sha + (" with uncommitted changes in mod_taskboard/" if dirty else "")
            + f", mod_taskboard.so built {built}")


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def fmt_latency(samples: List[Sample]) -> str:
    return f"{Row.median(samples, 'p50'):.2f} / {Row.median(samples, 'p99'):.2f}"


def fmt_statements(row: Row) -> str:
    # the writer's UPDATEs are read a moment apart from the counters: a static run can come
    # out a hair below zero
    mod, base = (max(0.0, Row.median(side, "/Questions")) for side in (row.module, row.base))
    pings = Row.median(row.module, "/Com_admin_commands")
    return f"{mod:.1f} / {base:.1f}" + (f" (module +{pings:.1f} ping)" if pings >= 0.05 else "")


def table(rows: List[Row]) -> List[str]:
    out = ["| scenario | board | c | module req/s | module p50 / p99 ms | baseline "
           "| baseline req/s | baseline p50 / p99 ms | ratio | target "
           "| statements/req module / baseline | notes |",
           "|---|---|--:|--:|--:|---|--:|--:|--:|---|--:|---|"]
    for r in rows:
        notes = list(r.notes)
        for name, side in (("module", r.module), ("baseline", r.base)):
            errors = sum(int(s.extra.get("socket_errors", 0)) for s in side)
            if errors:
                notes.append(f"{name}: {errors} wrk socket errors in {len(side)} runs")
        prepares = Row.median(r.module, "/Com_stmt_prepare")
        if prepares >= 0.005:
            notes.append(f"module prepares {prepares:.2f}/req")
        out.append(f"| {r.scenario} | {r.board} | {r.conc} "
                   f"| {Row.median(r.module, 'rps'):,.0f} | {fmt_latency(r.module)} "
                   f"| {r.baseline} | {Row.median(r.base, 'rps'):,.0f} | {fmt_latency(r.base)} "
                   f"| {r.ratio:.2f} | {r.target} | {fmt_statements(r)} | {'; '.join(notes)} |")
    return out


def header(bench: Bench, started: float, load_start: str) -> List[str]:
    s = bench.s
    placement = ("wrk and sync_direct pinned to CPU 0 (taskset); httpd and MariaDB unpinned"
                 if s.pin else "wrk/sync_direct, httpd and MariaDB unpinned, sharing all CPUs")
    lines = [
        "# mod_taskboard benchmark",
        "",
        f"- module: {bench.version}; {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; "
        f"wall time {time.monotonic() - started:.0f} s",
        f"- machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}; load average "
        f"{load_start} at the start, {loadavg()} at the end",
        f"- placement: {placement}; affinity of the bench: CPUs "
        f"{sorted(os.sched_getaffinity(0))}",
        f"- runs: median of {s.reps} runs of {s.seconds} s (XL: {s.xl_seconds} s) per side, "
        "module and baseline alternating; wrk -t1 at c=1, -t2 above",
        "- servers: one MariaDB and one httpd: the demo configuration (event MPM, 25 threads "
        "per child, DBDMax 10) and bench.py's additions, in "
        f"{os.path.join(bench.root, 'conf', 'httpd.conf')}",
        "- boards: " + "; ".join(
            f"{name} {b['tasks']:,} tasks, {b['resources']:,} resources, "
            f"{b['assignments']:,} assignments, answer {b['bytes']:,} B"
            + (f" ({b['gzip_bytes']:,} B gzip)" if "gzip_bytes" in b else "")
            for name, b in bench.boards.items()),
    ]
    if bench.memory:
        m = bench.memory
        verdict = "pass" if m["per_load_mib"] < XL_MIB_TARGET else "MISS"
        lines.append(
            f"- XL memory at c={m['conc']}: idle RSS of the httpd children {m['idle_mib']} MiB; "
            f"peak above idle {m['peak_above_idle_mib']} MiB summed over {m['children']} "
            f"children (VmHWM; sampled every 50 ms: {m['sampled_above_idle_mib']} MiB) = "
            f"**{m['per_load_mib']} MiB per concurrent load** (target < {XL_MIB_TARGET} MiB: "
            f"{verdict}); still held after the runs: {m['after_above_idle_mib']} MiB (memory "
            "that malloc keeps for the next loads is part of the peak)")
    return lines


FOOTNOTES = [
    "",
    "- ratio: module req/s / baseline req/s; target: the issue's lowest ratio (pass/MISS is "
    "informational).",
    "- static file: the same httpd serves the module's answer, byte for byte (requestIds of the "
    "same length), with the same query string; static .gz file: its gzip form with "
    "Content-Encoding: gzip.",
    "- direct SQL (C): tests/bench/sync_direct, one libmariadb connection per wrk connection, "
    "statements prepared once, issuing the module's statements and transaction for the same "
    "change (the journal rows included).  Its threads form as many clients as wrk has "
    "threads, and a sync behind the board's revision reads the journal and the others' records "
    "as the module's does (c=8: nearly every sync).",
    "- statements/req: MariaDB's Questions per request httpd handled (per applied sync for "
    "syncs), the revision writer's UPDATEs left out; prepares are not Questions; ping: "
    "COM_PING per request (Com_admin_commands), mod_dbd's check of the connection it hands out.",
    "- revision changing: a writer raises the revision in a tight loop during the module's and "
    "the static file's runs alike; the share of loads that saw a new revision is counted per "
    "wrk thread.",
]


def report(bench: Bench, started: float, load_start: str, failure: Optional[str]) -> str:
    lines = header(bench, started, load_start) + [""] + table(bench.rows) + FOOTNOTES
    if bench.statements_log:
        counts = ", ".join(f"{RECORDED_SCENARIOS[k].split(': ', 1)[1]} {m} / {d}"
                           for k, (m, d) in bench.statement_counts.items())
        lines.append(f"- one sync per scenario through the module and through sync_direct with "
                     f"MariaDB's general log on: the same statements in the same order (values "
                     f"aside); statements, module / baseline: {counts}; in "
                     f"{bench.statements_log}")
    lines += section_end(error_log_since(bench.root, bench.error_log_start), failure,
                         "The bench")
    return "\n".join(lines) + "\n"


def save_results(bench: Bench, text: str) -> str:
    state = bench.env["TB_STATE_DIR"]
    path = os.path.join(state, "results.md")
    with open(path, "w") as f:
        f.write(text)
    raw = [{**dataclasses.asdict(r), "ratio": r.ratio} for r in bench.rows]
    for r in raw:
        for side in ("module", "base"):
            for s in r[side]:
                s["extra"].pop("output", None)
    with open(os.path.join(state, "results.json"), "w") as f:
        json.dump({"rows": raw, "boards": bench.boards, "memory": bench.memory}, f, indent=1)
    return path


def prepare_schema(env):
    tbctl(env, "db-load", os.path.join(REPO, "sql", "schema.sql"))


def main() -> int:
    settings = Settings.from_env()
    if "sync" in settings.parts and not os.access(SYNC_DIRECT, os.X_OK):
        sys.exit(f"bench: {SYNC_DIRECT} is not built (make -f Makefile.apxs bench builds it)")
    started, load_start = time.monotonic(), loadavg()
    failure = None
    with servers(prepare_schema, bench_conf) as (env, root, base):
        bench = Bench(settings, env, root, base)
        bench.error_log_start = error_log_end(root)
        progress(where(env, base))
        try:
            bench.run()
        except BenchError as e:
            failure = str(e)
        text = report(bench, started, load_start, failure)
        path = save_results(bench, text)
    return finish("bench", text, path, failure)


if __name__ == "__main__":
    sys.exit(main())
