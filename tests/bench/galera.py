#!/usr/bin/python3
"""The Galera benchmark: make -f Makefile.apxs bench-galera (see tests/bench/README.md).

What the same httpd and module do on a 3-node MariaDB Galera cluster against one MariaDB, in one
run on the same machine: a single private MariaDB (tests/tbctl.sh, as the other benches), a
3-node cluster and HAProxy in front of it (tests/lib/galera.py), and one httpd whose main server
uses the single MariaDB and whose virtual hosts use the cluster (see bench_conf).  Everything is
stopped by pid however the run ends (an exception, Ctrl-C or SIGTERM).

  one        one board (the sample tables, make_board.sh M): card moves (sync.lua "move",
             TaskBoardConflictPolicy off) and loads of tasks, resources and assignments (cache
             on, revision unchanged), through HAProxy to the cluster against the single MariaDB
  boards     TB_GALERA_BOARDS scoped boards (conf/taskboard-boards.conf, TaskBoardScope), card
             moves on all of them at once, every board written through one Galera node and the
             boards spread over the three nodes (board b through node 1 + (b - 1) % 3), and all
             of them through HAProxy (one node takes every write), against the same boards and
             clients on the single MariaDB

Sides alternate (single, Galera, single, ...); the table gives medians over TB_BENCH_REPS runs of
TB_BENCH_SECONDS, the ratio Galera / single, the answers that were not 2xx (from httpd's access
log), and the CPU time per request of httpd, of the database servers and of HAProxy.  A 503 (a
conflict or an unavailable node the module could not absorb) is counted and reported; a 500, a
timeout, socket errors on more than 5% of the requests, a board whose revision did not rise by
exactly its 2xx answers, or nodes that differ at the end fail the bench (exit 1) once the table
is written.  Results: $TB_STATE_DIR/results-galera.md and results-galera.json.
"""

import collections
import contextlib
import dataclasses
import importlib.util
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Dict, List, Optional

from benchlib import (REPO, BenchError, Db, db_name, env_int, env_list, error_log_end,
                      error_log_since, finish, free_port, httpd_children, parse_tb_line, quiesce,
                      section_end, servers, tbctl)
from bench import cpu_model, loadavg, module_version
from live import proc_cpu
import boards as boards_bench

HERE = os.path.dirname(os.path.abspath(__file__))
LOAD_LUA = os.path.join(HERE, "load.lua")
SYNC_LUA = os.path.join(HERE, "sync.lua")
GALERA_LIB = os.path.join(REPO, "tests", "lib", "galera.py")
NODES = 3
STORES = ["tasks", "resources", "assignments"]
REQUEST_ID = 10000000000000
# the tables whose checksums must be equal on every node at the end
CHECKED_TABLES = ["options", "tasks", "resources", "assignments", "taskboard_journal",
                  "taskboard_requests", "boards", "board_tasks", "board_journal",
                  "board_requests"]
# what the bench's own connections to the nodes carry in their SET statement
OWN_MARK = "tests/bench/galera.py"
# the general log's line of a statement: thread id, command, text (as boards.py reads it)
GENERAL_LOG_LINE = boards_bench.GENERAL_LOG_LINE
# one line of the demo's access log (LogFormat "%h %l %u %t \"%r\" %>s %b %D")
ACCESS_LINE = re.compile(rb'"[A-Z]+ (\S+)[^"]*" (\d{3}) ')


@dataclasses.dataclass
class Settings:
    """The knobs, from TB_BENCH_* and TB_GALERA_* (see README.md)."""
    reps: int
    seconds: int
    parts: List[str]
    sync_c: List[int]
    load_c: List[int]
    boards_c: List[int]
    boards: int
    tasks: int
    sync_wait: int

    @classmethod
    def from_env(cls):
        s = cls(reps=env_int("TB_BENCH_REPS", 3),
                seconds=env_int("TB_BENCH_SECONDS", 5),
                parts=env_list("TB_GALERA_PARTS", "one,boards"),
                sync_c=[int(c) for c in env_list("TB_GALERA_SYNC_C", "8")],
                load_c=[int(c) for c in env_list("TB_GALERA_LOAD_C", "8")],
                boards_c=[int(c) for c in env_list("TB_GALERA_BOARDS_C", "8,32")],
                boards=env_int("TB_GALERA_BOARDS", 8),
                tasks=env_int("TB_GALERA_TASKS", 1000),
                sync_wait=env_int("TB_GALERA_SYNC_WAIT", 1))
        unknown = set(s.parts) - {"one", "boards"}
        if unknown:
            sys.exit(f"bench-galera: TB_GALERA_PARTS: unknown {', '.join(sorted(unknown))} "
                     "(one, boards)")
        # boards.py's generator puts its measured board first and wants one more after it
        if s.boards < boards_bench.BOARD + 1:
            sys.exit(f"bench-galera: TB_GALERA_BOARDS must be at least {boards_bench.BOARD + 1}")
        if any(c % s.boards for c in s.boards_c):
            sys.exit("bench-galera: every TB_GALERA_BOARDS_C must be a multiple of "
                     "TB_GALERA_BOARDS (the same number of clients on every board)")
        return s

    @property
    def resources(self) -> int:
        """make_board.sh's resources: N/10, at least 2, at most 1,000."""
        return min(1000, max(2, self.tasks // 10))


def progress(msg: str):
    print(f"bench-galera: {msg}", file=sys.stderr, flush=True)


def on_sigterm(signum, frame):
    """SIGTERM (make killed, a timeout) ends the run like Ctrl-C: the finally blocks stop every
    server by pid."""
    raise KeyboardInterrupt(f"signal {signum}")


# ---------------------------------------------------------------------------------------------
# the cluster: tests/lib/galera.py

def galera_lib():
    """tests/lib/galera.py, loaded from its path: this script is galera.py too, and would
    shadow it on the import path."""
    if not os.path.exists(GALERA_LIB):
        sys.exit(f"bench-galera: {GALERA_LIB} is missing")
    spec = importlib.util.spec_from_file_location("tb_galera_lib", GALERA_LIB)
    lib = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lib)
    return lib


@contextlib.contextmanager
def cluster_up(state: str):
    """Starts the 3-node cluster and HAProxy in front of it from conf/galera (state under
    state/galera and state/haproxy); yields (cluster, proxy) and stops both, whatever
    happens."""
    lib = galera_lib()
    cluster = lib.Cluster(state, nodes=NODES)
    proxy = None
    try:
        cluster.start()
        proxy = lib.Haproxy(state, cluster)
        proxy.start()
        yield cluster, proxy
    finally:
        try:
            if proxy is not None:
                proxy.stop()
        finally:
            cluster.stop()


class TcpDb(Db):
    """A connection to one MariaDB (a Galera node) over TCP as the board's user (autocommit);
    reads are causal (wsrep_sync_wait = 1), so that they see every commit of the cluster."""

    def __init__(self, env, port: int, causal=True):
        import pymysql
        self.conn = pymysql.connect(host="127.0.0.1", port=port,
                                    user=env.get("TB_DB_USER", "taskboard"),
                                    password=env.get("TB_DB_PASS", "taskboard"),
                                    database=db_name(env), autocommit=True, charset="utf8mb4")
        if causal:
            # marked, so that check_init_sql can tell the bench's connections from httpd's
            self.rows(f"SET SESSION wsrep_sync_wait = 1 /* {OWN_MARK} */")


def board_sql(settings: Settings, state: str) -> List[str]:
    """The SQL files of the data, the same for both databases: the schemas, board M in the
    sample tables (make_board.sh), and settings.boards boards in the board_* tables
    (boards.py's generator)."""
    path = os.path.join(state, "galera-bench-data.sql")
    board = subprocess.run([os.path.join(HERE, "make_board.sh"), str(settings.tasks)],
                           check=True, capture_output=True).stdout
    with open(path, "wb") as f:
        f.write(board)
        f.write(boards_bench.boards_sql(settings).encode())
    os.chmod(path, 0o644)
    return [os.path.join(REPO, "sql", "schema.sql"), os.path.join(REPO, "sql", "boards.sql"),
            path]


# ---------------------------------------------------------------------------------------------
# httpd: the demo configuration plus virtual hosts, one per database connection

def dbd_params(env, port: int, rotate: int = 0) -> str:
    """DBDParams for the MariaDB on port.  mod_dbd shares one pool between servers whose
    DBDParams are the same string, so the single MariaDB's virtual hosts get the same keys in
    another order each (rotate): a pool of their own, as each Galera node's host has."""
    keys = [f"host=127.0.0.1", f"port={port}", f"user={env.get('TB_DB_USER', 'taskboard')}",
            f"pass={env.get('TB_DB_PASS', 'taskboard')}", f"dbname={db_name(env)}",
            "reconnect=0", "group=taskboard"]
    rotate %= len(keys)
    return " ".join(keys[rotate:] + keys[:rotate])


@dataclasses.dataclass
class Ports:
    """httpd's ports: `haproxy` (the cluster through HAProxy), `single[i]` and `node[i]` (the
    boards of node i + 1 on the single MariaDB and on Galera node i + 1)."""
    haproxy: int
    single: List[int]
    node: List[int]

    @classmethod
    def free(cls):
        return cls(free_port(), [free_port() for _ in range(NODES)],
                   [free_port() for _ in range(NODES)])


def bench_conf(env, ports: Ports, cluster, proxy, settings: Settings) -> str:
    """What the bench adds to the demo configuration (whose main server uses the single
    MariaDB): the sync locations without the conflict check, the scoped boards of
    conf/taskboard-boards.conf (without its last block, authorization), and the virtual hosts
    that put the same locations on other connections.  wsrep_sync_wait (TB_GALERA_SYNC_WAIT)
    comes last in every connection's DBDInitSQL, on both sides alike (on the single MariaDB it
    does nothing)."""
    boards, _ = boards_bench.split_boards_conf()

    def host(port: int, db_port: int, what: str, rotate=0) -> str:
        return (f"# {what}\nListen 127.0.0.1:{port}\n<VirtualHost 127.0.0.1:{port}>\n"
                f'    DBDParams "{dbd_params(env, db_port, rotate)}"\n</VirtualHost>\n')

    hosts = [host(ports.haproxy, proxy.port, "the cluster through HAProxy")]
    for i in range(NODES):
        hosts.append(host(ports.single[i], int(env["TB_DB_PORT"]),
                          f"boards of node {i + 1}, on the single MariaDB", rotate=i + 1))
        hosts.append(host(ports.node[i], cluster.port(i + 1),
                          f"boards of node {i + 1}, on Galera node {i + 1}"))
    return f"""# generated by tests/bench/galera.py
# One process serves every client up to c=64: with the demo's 25 threads per child, the event
# MPM closes idle keep-alive connections at c=32 whenever a process's workers are all busy, and
# wrk's next request on such a connection ends in a read error (up to 20% of them here).
ThreadsPerChild 64
MaxRequestWorkers 256
MaxSpareThreads 256

# Causal reads (TB_GALERA_SYNC_WAIT), as conf/taskboard.conf sets them: repeated here, after its
# DBDInitSQL, so that the bench's value is the last statement of every connection.  mod_dbd runs
# a virtual host's own DBDInitSQL first and then the main server's: the hosts below add none.
DBDInitSQL "SET SESSION wsrep_sync_wait = {settings.sync_wait}"

# card moves of many clients at once; the last writer wins (as bench.py's)
<Location /api/bench-sync>
    SetHandler taskboard-sync
    TaskBoardConflictPolicy off
</Location>

# ---- conf/taskboard-boards.conf up to its last block: /boards/N/load, sync, events
{boards}
<LocationMatch "^/boards/[0-9]+/bench-sync$">
    SetHandler taskboard-sync
    TaskBoardConflictPolicy off
</LocationMatch>

# ---- the same locations on other database connections: the main server's locations apply
# in every virtual host, each host has a mod_dbd pool of its own (DBDMin/Keep/Max as the demo)
{chr(10).join(hosts)}"""


# ---------------------------------------------------------------------------------------------
# measuring

@dataclasses.dataclass
class Job:
    """One wrk process of a run: its URL, script and arguments, and what it writes to."""
    url: str
    script: str
    args: list
    conns: int
    threads: int
    revision: Optional[callable] = None     # the written board's revision (syncs)


@dataclasses.dataclass
class Sample:
    """One run of one side: all its wrk processes together."""
    rps: float                  # requests per second, summed over the processes
    p50: float                  # ms: median of the processes' p50
    p99: float                  # ms: highest of the processes' p99
    requests: int
    statuses: Dict[str, int]    # httpd's access log: status -> answers during the run
    applied: int = 0            # syncs: the revisions' rise
    socket_errors: int = 0
    cpu: Dict[str, float] = dataclasses.field(default_factory=dict)     # seconds during the run

    @property
    def non_2xx(self) -> int:
        return sum(n for s, n in self.statuses.items() if not s.startswith("2"))


@dataclasses.dataclass
class Side:
    key: str                    # single, galera, galera-one
    label: str                  # in the table
    jobs: callable              # () -> [Job]: new nonces for every run
    samples: List[Sample] = dataclasses.field(default_factory=list)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in self.samples)

    def cpu_ms(self, group: str) -> float:
        """Median CPU milliseconds of a process group per request."""
        return statistics.median(1000 * s.cpu.get(group, 0.0) / max(1, s.requests)
                                 for s in self.samples)


@dataclasses.dataclass
class Row:
    kind: str                   # sync, load, boards
    conc: int
    sides: List[Side]
    notes: List[str] = dataclasses.field(default_factory=list)


SCENARIOS = {"sync": "one board M: card move",
             "load": "one board M: load (cache on, revision unchanged)",
             "boards": "{boards} boards: card moves"}


class Bench:
    def __init__(self, settings: Settings, env: dict, root: str, cluster, proxy, ports: Ports):
        self.s = settings
        self.env, self.root, self.cluster, self.proxy, self.ports = (env, root, cluster, proxy,
                                                                     ports)
        self.single = Db(env)
        self.nodes = {i: TcpDb(env, cluster.port(i)) for i in range(1, NODES + 1)}
        self.rows: List[Row] = []
        self.failures: List[str] = []
        self.info: dict = {}
        self._nonce = 0
        self.access_log = os.path.join(root, "logs", "access_log")
        with open(self.access_log, "w"):
            pass
        with open(os.path.join(env["TB_STATE_DIR"], "mariadb", "mysqld.pid")) as f:
            self.single_pid = int(f.read().strip())
        self.first_task = {b: int(self.single.value(
            "SELECT MIN(`id`) FROM `board_tasks` WHERE `board_id` = %s", (b,)))
            for b in range(1, settings.boards + 1)}

    def nonce(self) -> int:
        self._nonce += 1
        return self._nonce

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}/"

    # -- the databases

    def writer(self) -> int:
        """The node HAProxy sends the writes to (1-based)."""
        return int(self.proxy.writer())

    @staticmethod
    def options_revision(db: Db) -> int:
        return db.revision()

    @staticmethod
    def board_revision(db: Db, board: int) -> int:
        return int(db.value("SELECT `revision` FROM `boards` WHERE `id` = %s", (board,)))

    def node_of(self, board: int) -> int:
        """The Galera node (1-based) that takes board's writes."""
        return 1 + (board - 1) % NODES

    # -- checks before the runs

    def load_answer(self, port: int, path: str) -> dict:
        package = {"type": "load", "requestId": REQUEST_ID, "stores": STORES}
        url = (f"http://127.0.0.1:{port}{path}?data="
               + urllib.parse.quote(json.dumps(package, separators=(",", ":")), safe=""))
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise BenchError(f"GET :{port}{path}: {e.code} {e.read()[:300]!r}")

    def check_answers(self):
        """Every connection serves the same board: the load answers have the same tasks and
        resources (assignment ids differ: Galera's auto_increment_increment) and as many
        assignments; the board has the generated counts."""
        main = int(self.env["TB_HTTP_PORT"])
        pairs = [("/api/load", main, self.ports.haproxy)]
        for i in range(NODES):
            board = i + 1
            pairs.append((f"/boards/{board}/load", self.ports.single[i], self.ports.node[i]))
        for path, single_port, galera_port in pairs:
            a, b = self.load_answer(single_port, path), self.load_answer(galera_port, path)
            for store in STORES:
                same = (a[store]["rows"] == b[store]["rows"] if store != "assignments"
                        else len(a[store]["rows"]) == len(b[store]["rows"]))
                if not same:
                    raise BenchError(f"{path}: {store} differ between the single MariaDB "
                                     "and the cluster")
            if len(a["tasks"]["rows"]) != self.s.tasks:
                raise BenchError(f"{path}: {len(a['tasks']['rows'])} tasks, not {self.s.tasks}")
        self.info["answer_bytes"] = len(json.dumps(a))

    # -- one run

    def cpu(self) -> Dict[str, float]:
        """CPU seconds so far (utime + stime, /proc/PID/stat) of httpd (parent and children), of
        the single mariadbd, of the Galera nodes together and of HAProxy; a child that started
        meanwhile counts from 0."""
        with open(os.path.join(self.root, "logs", "httpd.pid")) as f:
            httpd = [int(f.read().strip())] + httpd_children(self.root)
        nodes = [self.cluster.node(i).pid for i in range(1, NODES + 1)]
        return {"httpd": {pid: proc_cpu(pid) for pid in httpd},
                "single": proc_cpu(self.single_pid),
                "galera": sum(proc_cpu(pid) for pid in nodes if pid),
                "haproxy": proc_cpu(self.proxy.proc.pid) if self.proxy.proc else 0.0}

    @staticmethod
    def cpu_used(before: dict, after: dict) -> Dict[str, float]:
        used = {k: after[k] - before[k] for k in ("single", "galera", "haproxy")}
        used["httpd"] = sum(t - before["httpd"].get(pid, 0.0)
                            for pid, t in after["httpd"].items())
        return used

    def access_statuses(self, offset: int) -> Dict[str, int]:
        with open(self.access_log, "rb") as f:
            f.seek(offset)
            data = f.read()
        counts = collections.Counter(m.group(2).decode() for m in ACCESS_LINE.finditer(data))
        return dict(counts)

    def run(self, side: Side, conc: int, sync: bool) -> Sample:
        """The side's wrk processes at once; afterwards httpd's answers by status (its access
        log) and, for syncs, each written board's revision rise, which must equal its 2xx
        answers (every acknowledged card move applied once, none that was refused)."""
        jobs = side.jobs()
        before = [job.revision() for job in jobs] if sync else []
        offset = os.path.getsize(self.access_log)
        cpu0 = self.cpu()
        procs = []
        for job in jobs:
            cmd = ["wrk", f"-t{job.threads}", f"-c{job.conns}", f"-d{self.s.seconds}s",
                   "--timeout", "60s", "-s", job.script, job.url, "--", *map(str, job.args)]
            procs.append((cmd, subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                                stderr=subprocess.STDOUT, text=True)))
        tbs = []
        for cmd, p in procs:
            out, _ = p.communicate()
            if p.returncode != 0:
                raise BenchError(f"{' '.join(cmd)} failed (exit {p.returncode}):\n{out}")
            tb = parse_tb_line(out)
            tb["output"] = out
            tbs.append(tb)
        quiesce(self.access_log)
        if sync:
            self.settle(jobs)
        cpu = self.cpu_used(cpu0, self.cpu())
        statuses = self.access_statuses(offset)
        requests = sum(int(tb["requests"]) for tb in tbs)
        socket_errors = sum(int(tb[k]) for tb in tbs for k in ("connect", "read", "write"))
        timeouts = sum(int(tb["timeout"]) for tb in tbs)
        if timeouts or socket_errors > 0.05 * max(1, requests) or requests == 0:
            raise BenchError(f"{side.key} c={conc}: {requests} requests, {socket_errors} socket "
                             f"errors, {timeouts} timeouts\n{tbs[0]['output']}")
        sample = Sample(rps=sum(tb["requests"] / (tb["duration_us"] / 1e6) for tb in tbs),
                        p50=statistics.median(tb["p50_us"] / 1e3 for tb in tbs),
                        p99=max(tb["p99_us"] / 1e3 for tb in tbs),
                        requests=requests, statuses=statuses, socket_errors=socket_errors,
                        cpu=cpu)
        if sync:
            sample.applied = sum(job.revision() - rev for job, rev in zip(jobs, before))
            answered = sum(n for s, n in statuses.items() if s.startswith("2"))
            if sample.applied != answered:
                self.failures.append(f"{side.key} c={conc}: httpd answered {answered} syncs "
                                     f"with 2xx but the revisions rose by {sample.applied}")
        if statuses.get("500"):
            self.failures.append(f"{side.key} c={conc}: {statuses['500']} answers of 500")
        return sample

    def settle(self, jobs: List[Job]):
        """Until no written revision has moved for 200 ms: httpd finishes the syncs that were
        under way when wrk stopped."""
        last, still = [job.revision() for job in jobs], 0
        while still < 4:
            time.sleep(0.05)
            now = [job.revision() for job in jobs]
            still = still + 1 if now == last else 0
            last = now

    def measure(self, kind: str, conc: int, sides: List[Side]) -> Row:
        row = Row(kind, conc, sides)
        for _ in range(self.s.reps):
            for side in sides:
                side.samples.append(self.run(side, conc, kind != "load"))
        single = sides[0].median("rps")
        progress(f"{self.scenario(row)} c={conc}: " + ", ".join(
            f"{s.key} {s.median('rps'):,.0f}/s" for s in sides) + " (ratios "
            + ", ".join(f"{s.median('rps') / single:.2f}" for s in sides[1:]) + "), non-2xx "
            + " / ".join(str(sum(x.non_2xx for x in s.samples)) for s in sides))
        self.rows.append(row)
        return row

    def scenario(self, row: Row) -> str:
        return SCENARIOS[row.kind].format(boards=self.s.boards)

    # -- the scenarios

    def one_board_sides(self, kind: str, conc: int) -> List[Side]:
        """The single MariaDB through httpd's main server, the cluster through the HAProxy
        host: the same locations, board M in the sample tables."""
        main = int(self.env["TB_HTTP_PORT"])
        threads = min(2, conc)

        def jobs(port: int, db_of):
            def make():
                if kind == "load":
                    return [Job(self.url(port), LOAD_LUA, ["/api/load", self.nonce()], conc,
                                threads)]
                db = db_of()
                return [Job(self.url(port), SYNC_LUA,
                            ["/api/bench-sync", "move", self.nonce(), db.revision(),
                             self.s.tasks, self.s.resources, threads],
                            conc, threads, db.revision)]
            return make
        return [Side("single", "", jobs(main, lambda: self.single)),
                Side("galera", "through HAProxy (one node takes the writes)",
                     jobs(self.ports.haproxy, lambda: self.nodes[self.writer()]))]

    def boards_sides(self, conc: int) -> List[Side]:
        """One wrk process per board, conc / boards connections each, board b on the host of
        node 1 + (b - 1) % 3: on the single MariaDB all hosts reach the same server, on the
        cluster each reaches its node; and on the cluster through HAProxy, all boards on the
        node that takes the writes."""
        per_board = conc // self.s.boards

        def jobs(where: str):
            def make():
                out = []
                for board in range(1, self.s.boards + 1):
                    i = self.node_of(board) - 1
                    if where == "single":
                        port, db = self.ports.single[i], self.single
                    elif where == "spread":
                        port, db = self.ports.node[i], self.nodes[i + 1]
                    else:
                        port, db = self.ports.haproxy, self.nodes[self.writer()]
                    revision = (lambda db=db, board=board: self.board_revision(db, board))
                    out.append(Job(self.url(port), SYNC_LUA,
                                   [f"/boards/{board}/bench-sync", "move", self.nonce(),
                                    revision(), self.s.tasks, self.s.resources, 1, "",
                                    self.first_task[board]],
                                   per_board, 1, revision))
                return out
            return make
        return [Side("single", "", jobs("single")),
                Side("galera", "each board through one node, spread over the 3",
                     jobs("spread")),
                Side("galera-one", "all through HAProxy (one node takes the writes)",
                     jobs("haproxy"))]

    def check_init_sql(self):
        """Node 1's general log has been on since before httpd started: every connection of
        httpd's on node 1 (through HAProxy, and the node 1 host) must have set wsrep_sync_wait
        to TB_GALERA_SYNC_WAIT last.  The log goes off for the runs."""
        self.cluster.query(1, "SET GLOBAL general_log = 0")
        last = {}                           # thread id -> the last wsrep_sync_wait it set
        with open(self.general_log, errors="replace") as f:
            for line in f:
                m = GENERAL_LOG_LINE.match(line)
                value = m and re.search(r"wsrep_sync_wait\s*=\s*(\d+)", m.group(3))
                if value and OWN_MARK not in m.group(3):
                    last[m.group(1)] = int(value.group(1))
        self.info["init_sql_connections"] = len(last)
        wrong = {t: v for t, v in last.items() if v != self.s.sync_wait}
        if not last or wrong:
            raise BenchError(f"{self.general_log}: httpd's connections on node 1 set "
                             f"wsrep_sync_wait last to {last or 'nothing'}, not "
                             f"{self.s.sync_wait}")

    def run_all(self):
        self.check_answers()
        self.check_init_sql()
        if "one" in self.s.parts:
            for conc in self.s.sync_c:
                self.measure("sync", conc, self.one_board_sides("sync", conc))
            for conc in self.s.load_c:
                self.measure("load", conc, self.one_board_sides("load", conc))
        if "boards" in self.s.parts:
            for conc in self.s.boards_c:
                self.measure("boards", conc, self.boards_sides(conc))

    # -- after the runs

    def check_nodes(self):
        """Every node has the same revisions and table checksums as the others.  Which node
        HAProxy sends the writes to at the end is reported: a health check that failed under
        load would have moved them (the module then answers 503 for a moment, not a failure of
        the bench)."""
        self.info["writer_at_end"] = self.writer()
        revisions = {}
        for i, db in self.nodes.items():
            revisions[i] = (db.revision(), tuple(
                self.board_revision(db, b) for b in range(1, self.s.boards + 1)))
        if len(set(revisions.values())) != 1:
            self.failures.append(f"the nodes' revisions differ: {revisions}")
        sums = {i: self.cluster.checksum(i, CHECKED_TABLES) for i in range(1, NODES + 1)}
        differ = [t for t in CHECKED_TABLES
                  if len({repr(_checksum_of(sums[i], t)) for i in sums}) != 1]
        if differ:
            self.failures.append(f"table checksums differ between the nodes: {differ} "
                                 f"({sums})")
        self.info["nodes_equal"] = not differ and len(set(revisions.values())) == 1
        self.info["checked_tables"] = CHECKED_TABLES
        self.info["revision"] = revisions[1][0]

    def versions(self):
        db = self.nodes[1]
        rows = dict(db.rows("SHOW GLOBAL STATUS WHERE Variable_name IN "
                            "('wsrep_cluster_size', 'wsrep_provider_version')"))
        self.info["mariadb"] = db.value("SELECT VERSION()")
        self.info["cluster_size"] = rows.get("wsrep_cluster_size")
        self.info["galera"] = rows.get("wsrep_provider_version")
        self.info["haproxy"] = subprocess.run(["haproxy", "-v"], capture_output=True,
                                              text=True).stdout.splitlines()[0]


def _checksum_of(sums, table: str):
    """A table's checksum in what Cluster.checksum returned: a dict keyed by table (possibly
    qualified with the database), or rows of (table, checksum)."""
    items = sums.items() if isinstance(sums, dict) else sums
    for name, value in items:
        if str(name).split(".")[-1] == table:
            return value
    return None


# ---------------------------------------------------------------------------------------------
# the report

def statuses_text(samples: List[Sample]) -> str:
    total = collections.Counter()
    for s in samples:
        total.update({k: v for k, v in s.statuses.items() if not k.startswith("2")})
    if not total:
        return "0"
    return f"{sum(total.values())} (" + ", ".join(f"{k} x{v}" for k, v in sorted(total.items())) \
        + ")"


def cpu_text(side: Side, db: str) -> str:
    """CPU ms per request: httpd / the database server(s) / HAProxy."""
    return (f"{side.cpu_ms('httpd'):.2f} / {side.cpu_ms(db):.2f}"
            + (f" / {side.cpu_ms('haproxy'):.2f}" if db == "galera" else ""))


def table(bench: Bench) -> List[str]:
    out = ["| scenario | concurrency | single MariaDB/s | Galera/s | ratio | non-2xx single / "
           "Galera | p50 / p99 ms single | p50 / p99 ms Galera | CPU ms/req single: httpd / "
           "MariaDB | CPU ms/req Galera: httpd / 3 nodes / HAProxy |",
           "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for row in bench.rows:
        single = row.sides[0]
        s = single.median("rps")
        for galera in row.sides[1:]:
            g = galera.median("rps")
            out.append(
                f"| {bench.scenario(row)}, {galera.label} | {row.conc} | {s:,.0f} | {g:,.0f} "
                f"| {g / s:.2f} | {statuses_text(single.samples)} / "
                f"{statuses_text(galera.samples)} "
                f"| {single.median('p50'):.2f} / {single.median('p99'):.2f} "
                f"| {galera.median('p50'):.2f} / {galera.median('p99'):.2f} "
                f"| {cpu_text(single, 'single')} | {cpu_text(galera, 'galera')} |")
    return out


def section(bench: Optional[Bench], s: Settings, started: float, load_start: str,
            version: str, failure: Optional[str], log: List[str]) -> str:
    info = bench.info if bench else {}
    lines = [
        "## Galera cluster against one MariaDB",
        "",
        f"- module: {version}; {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; wall time "
        f"{time.monotonic() - started:.0f} s (`make -f Makefile.apxs bench-galera`, "
        "tests/bench/galera.py)",
        f"- machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}; load average {load_start} "
        f"at the start, {loadavg()} at the end. wrk, httpd, HAProxy, the single MariaDB and "
        "the three Galera nodes share these CPUs (and whatever else runs on the machine)",
        f"- runs: median of {s.reps} runs of {s.seconds} s per side, single and Galera in turn",
        "- servers: one private MariaDB; a Galera cluster of three nodes on loopback"
        + (f" ({info.get('mariadb')}, Galera {info.get('galera')}, cluster size "
           f"{info.get('cluster_size')})" if info.get("mariadb") else "")
        + f", HAProxy in front ({info.get('haproxy', 'haproxy')}; one node takes the writes, "
        "the others are backups); one httpd (the demo configuration, DBDMax 10 per pool and "
        "process, with 64 threads per child: one process serves every client) whose main "
        "server uses the single MariaDB, one virtual host HAProxy, and per node one virtual "
        "host that node and one the single MariaDB (a mod_dbd pool each)"
        + f"; every connection sets `wsrep_sync_wait = {s.sync_wait}` last in DBDInitSQL "
        + ("(causal reads, as conf/taskboard.conf)" if s.sync_wait == 1 else
           "(TB_GALERA_SYNC_WAIT)")
        + (f", checked on node 1's {info['init_sql_connections']} connections from httpd "
           "(general log)" if info.get("init_sql_connections") else ""),
        f"- data: board M ({s.tasks:,} tasks, {s.resources} resources, {2 * s.tasks:,} "
        f"assignments, make_board.sh) in the sample tables; {s.boards} boards of the same size "
        "in the board_* tables (sql/boards.sql, conf/taskboard-boards.conf without its last "
        "block); loaded into both databases alike, the answers checked to be the same",
    ]
    if bench and bench.rows:
        lines += ["", *table(bench), "",
                  "- card moves: sync.lua \"move\" (status and weight of one task) on "
                  "locations with `TaskBoardConflictPolicy off`; one board: wrk -t2, the "
                  "single MariaDB through httpd's main server, the cluster through HAProxy; "
                  f"{s.boards} boards: one wrk per board (-t1, concurrency / {s.boards} "
                  "connections each), board b through the host of node 1 + (b - 1) % 3 "
                  "(on the single side all hosts reach the one server), or all through "
                  "HAProxy; the single side's runs are compared with both. req/s summed over "
                  "the wrk processes, p50 their median, p99 their highest.",
                  "- non-2xx: httpd's access log, summed over the runs of the side. 503: a "
                  "conflict or an unavailable node the module could not absorb (Retry-After); "
                  "500 fails the bench. Every sync run checks that each board's revision rose "
                  "by exactly its 2xx answers.",
                  "- ratio: Galera / single. CPU: utime + stime per request (per answered "
                  "request, /proc/PID/stat) of the httpd processes, of mariadbd (the single "
                  "one, or the three nodes together) and of HAProxy; wrk's own is not in it. "
                  "Every write is applied by all three nodes, on the same CPUs: writes "
                  "through more nodes add no CPU here, they share it."]
    if bench and "nodes_equal" in info:
        lines.append(f"- after the runs: revisions and CHECKSUM TABLE of "
                     f"{', '.join(info['checked_tables'])} "
                     + ("equal on all three nodes" if info["nodes_equal"] else
                        "**differ between the nodes**")
                     + f" (revision of board M {info.get('revision')}); HAProxy's writer at the "
                     f"end: node {info.get('writer_at_end')}"
                     + ("" if info.get("writer_at_end") == 1 else
                        " (**not node 1**: a health check failed during the run, and HAProxy "
                        "moved the writes)"))
    lines += section_end(log, failure, "The Galera bench")
    return "\n".join(lines) + "\n"


def save_raw(bench: Bench, path: str):
    rows = [{"kind": row.kind, "conc": row.conc, "notes": row.notes,
             "sides": [{"key": side.key,
                        "samples": [dataclasses.asdict(x) for x in side.samples]}
                       for side in row.sides]} for row in bench.rows]
    with open(path, "w") as f:
        json.dump({"settings": dataclasses.asdict(bench.s), "info": bench.info, "rows": rows,
                   "failures": bench.failures}, f, indent=1)


def main() -> int:
    signal.signal(signal.SIGTERM, on_sigterm)
    settings = Settings.from_env()
    started, load_start = time.monotonic(), loadavg()
    state = os.path.abspath(os.environ.get("TB_STATE_DIR",
                                           os.path.join(REPO, "state", "bench")))
    os.environ["TB_STATE_DIR"] = state
    os.makedirs(state, exist_ok=True)
    failure, bench, log, version = None, None, [], "unknown"
    files = board_sql(settings, state)
    ports = Ports.free()
    progress(f"starting the Galera cluster and HAProxy (state {state}/galera)")
    with cluster_up(state) as (cluster, proxy):
        progress(f"cluster: nodes on ports {[cluster.port(i) for i in range(1, NODES + 1)]}, "
                 f"HAProxy on {proxy.port}; loading the boards")
        cluster.load_sql(1, *files)
        general_log = os.path.join(state, "galera-node1-general.log")
        # on until the checks before the runs: the connections httpd opens at its start must
        # set wsrep_sync_wait (Bench.check_init_sql)
        with open(general_log, "w"):
            pass
        cluster.query(1, "SET GLOBAL general_log_file = %s", (general_log,))
        cluster.query(1, "SET GLOBAL general_log = 1")

        single = {}

        def prepare(env):
            # servers() has chosen the single MariaDB's port: bench_conf needs it next
            single.update(env)
            tbctl(env, "db-load", *files)

        with servers(prepare, lambda root: bench_conf(single, ports, cluster, proxy,
                                                      settings)) as (env, root, base):
            version = module_version(env)
            log_start = error_log_end(root)
            progress(f"httpd {base} (HAProxy host :{ports.haproxy}, node hosts "
                     f"{ports.node}, single hosts {ports.single}), MariaDB "
                     f"127.0.0.1:{env['TB_DB_PORT']}")
            try:
                bench = Bench(settings, env, root, cluster, proxy, ports)
                bench.general_log = general_log
                bench.versions()
                bench.run_all()
                bench.check_nodes()
            except BenchError as e:
                failure = str(e)
            if bench and bench.failures and not failure:
                failure = "; ".join(bench.failures)
            log = error_log_since(root, log_start)
            text = section(bench, settings, started, load_start, version, failure, log)
            path = os.path.join(state, "results-galera.md")
            with open(path, "w") as f:
                f.write("# mod_taskboard benchmark: Galera\n\n" + text)
            if bench:
                save_raw(bench, os.path.join(state, "results-galera.json"))
    return finish("bench-galera", text, path, failure)


if __name__ == "__main__":
    sys.exit(main())
