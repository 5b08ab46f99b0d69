#!/usr/bin/python3
"""The benchmark of live boards: make -f Makefile.apxs bench-live (see tests/bench/README.md).

One MariaDB and one httpd (the demo configuration, whose /api has TaskBoardJournal and
TaskBoardConflictPolicy record, with an event MPM of 2 processes x 256 threads so that 200
event streams fit), on free loopback ports, state in $TB_STATE_DIR (default state/bench), board M
(make_board.sh 1000).  Everything is stopped by pid however the run ends.

  delta      after one card move by client A, client B's empty sync (the delta) against a full
             load of tasks, resources and assignments: bytes, gzip bytes, median time
  fan-out    200 Server-Sent Events subscribers (live_clients.py sse) while a writer moves cards
             at TB_LIVE_RATE/s and then as fast as it can, with each TaskBoardEventsPoll of
             TB_LIVE_POLLS: revisions/s, events/s, every revision once and in order (or the bench
             fails), delay from the sync's answer to the event, poll statements/s (MariaDB's
             general log, to a table)
  compare    on an idle board and with the writer at TB_LIVE_RATE/s: the writer alone, 200
             subscribers, 200 subscribers that fetch each change with an empty sync
             (live_clients.py sse+sync), 200 clients polling with empty syncs once per second
             (live_clients.py poll): statements/s, pings/s, bytes/s on the wire, CPU of httpd
             and MariaDB (/proc/PID/stat), how long until a client has the change

The "Live boards" section goes into $TB_STATE_DIR/results.md (replacing the one an earlier run
left there, after what bench.py wrote), the raw figures into $TB_STATE_DIR/live.json.  The bench
fails (exit 1) only on errors: an error answer, a wrong delta, a subscriber that missed, repeated
or reordered a revision, a polling client's failed request.
"""

import dataclasses
import gzip
import itertools
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
from typing import List, Optional

from benchlib import (REPO, BenchError, Db, env_float, env_int, error_log_end, error_log_since,
                      finish, httpd_children, save_section, section_end, servers, tbctl, where)
from bench import cpu_model, loadavg, module_version
import procfs  # tests/lib, on the path through benchlib

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = os.path.join(HERE, "live_clients.py")
STORES = ["tasks", "resources", "assignments"]
STATUSES = ["todo", "doing", "review", "done"]
# the weights of the card moves: each move writes one never written before, so that it really
# changes its row (a sync that changes nothing does not raise the revision)
WEIGHTS = itertools.count(10**7)

# 200 streams, each holding a worker thread, in 2 processes; the rest of the threads serve the
# writer and the clients' syncs.  A process may get most of the streams (whichever has idle
# workers accepts), so each has room for all of them: a process whose workers are all busy
# closes its idle keep-alive connections.  MaxSpareThreads as high as all threads: the MPM must
# not stop a process because most of its threads look idle (it would end its streams).  All
# subscribers come from one address: each process may give all of them a stream (the default
# limits, half the threads and half of that per client, are for browsers).
MPM_CONF = """\
StartServers 2
ServerLimit 2
ThreadLimit 256
ThreadsPerChild 256
MaxRequestWorkers 512
MinSpareThreads 25
MaxSpareThreads 512
TaskBoardEventsMaxStreams 240 240
"""

# the statements of MariaDB's general log that the events cause: the poller's (one per process
# and interval), and a subscriber's own journal read when it is further behind than the feed's
# memory of 4,096 revisions
POLL_LIKE = "(SELECT `value`, NULL FROM `options`%UNION ALL%`taskboard_journal`%"
RESUME_LIKE = "SELECT `revision`, `tbl`, `record_id`, `operation` FROM `taskboard_journal`%"

# the clients of the comparison: none (the writer alone), subscribers, subscribers that fetch
# each change with an empty sync, polling clients
COMPARE_SIDES = ("alone", "sse", "sse+sync", "poll")


@dataclasses.dataclass
class Settings:
    subscribers: int
    reps: int
    seconds: float
    max_seconds: float
    compare_seconds: float
    rate: float
    polls: List[str]
    requests: int
    tasks: int
    period: float

    @classmethod
    def from_env(cls):
        return cls(subscribers=env_int("TB_LIVE_SUBSCRIBERS", 200),
                   reps=env_int("TB_LIVE_REPS", 3),
                   seconds=env_float("TB_LIVE_SECONDS", 4),
                   max_seconds=env_float("TB_LIVE_MAX_SECONDS", 3),
                   compare_seconds=env_float("TB_LIVE_COMPARE_SECONDS", 3),
                   rate=env_float("TB_LIVE_RATE", 10),
                   polls=[p.strip() for p in os.environ.get("TB_LIVE_POLLS", "1s,200ms")
                          .split(",") if p.strip()],
                   requests=env_int("TB_LIVE_REQUESTS", 50),
                   tasks=env_int("TB_LIVE_TASKS", 1000),
                   period=env_float("TB_LIVE_PERIOD", 1.0))


def progress(msg: str):
    print(f"bench-live: {msg}", file=sys.stderr, flush=True)


def median(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def percentile(values, p: float) -> float:
    """The nearest-rank percentile."""
    values = sorted(values)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, int(round(p / 100 * len(values) + 0.5)) - 1))]


# ---------------------------------------------------------------------------------------------
# processes: CPU time, the client processes

def proc_cpu(pid: int) -> float:
    """utime + stime of a process (all its threads) in seconds; 0 once it is gone."""
    try:
        return procfs.cpu_ticks(pid) / procfs.CLK_TCK
    except OSError:
        return 0.0


class ClientProc:
    """live_clients.py in a process of its own: one command line in, one JSON line out."""

    def __init__(self, *args):
        self.p = subprocess.Popen([sys.executable, CLIENTS, *map(str, args)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def cmd(self, line: str) -> dict:
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        out = self.p.stdout.readline()
        if not out:
            raise BenchError(f"live_clients.py ended (exit {self.p.poll()}) on: {line}")
        return json.loads(out)

    def cpu(self) -> float:
        return proc_cpu(self.p.pid)

    def close(self):
        if self.p.poll() is None:
            try:
                self.cmd("quit")
            except (BenchError, OSError, ValueError):
                pass
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()       # by its pid: the process this object started
                self.p.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------------------------------------
# HTTP on a keep-alive connection

class Http:
    """One keep-alive connection (http.client reconnects when httpd closes it)."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: Optional[bytes] = None, headers=None):
        """(status, headers, body, seconds)."""
        h = dict(headers or {})
        if body is not None:
            h["Content-Type"] = "application/json"
        t = time.perf_counter()
        self.conn.request(method, path, body=body, headers=h)
        r = self.conn.getresponse()
        data = r.read()
        return r.status, r.headers, data, time.perf_counter() - t

    def close(self):
        self.conn.close()


class Ids:
    """requestIds of 14 digits, each used once: a repeated one with the same body would be
    answered from the request table."""

    def __init__(self, first: int):
        self.n = first

    def __call__(self) -> int:
        self.n += 1
        return self.n


class Writer:
    """Client A: card moves (status and weight of one task, a weight never written before) on a
    keep-alive connection through /api/sync, each with the revision of its last answer, so that
    no sync is stale.  Keeps the monotonic time each revision's answer arrived."""

    retries = 0                     # syncs sent again, over all writers

    def __init__(self, port: int, rev: int, tasks: int, ids: Ids):
        self.http = Http(port)
        self.rev = rev
        self.tasks = tasks
        self.ids = ids
        self.n = 0
        self.answered = {}          # revision -> time.monotonic() of its answer

    def move(self) -> dict:
        self.n += 1
        weight = next(WEIGHTS)
        task = 1 + (weight * 7) % self.tasks
        change = {"id": task, "status": STATUSES[weight % 4], "weight": weight}
        body = json.dumps({"type": "sync", "requestId": self.ids(), "revision": self.rev,
                           "tasks": {"updated": [change]}}).encode()
        try:
            status, _, data, _ = self.http.request("POST", "/api/sync", body)
        except (http.client.RemoteDisconnected, ConnectionError):
            # httpd closed the idle keep-alive connection as the request went out: the same
            # requestId and body again, which the module answers from its request table if
            # the first one did arrive
            Writer.retries += 1
            self.http.close()
            status, _, data, _ = self.http.request("POST", "/api/sync", body)
        now = time.monotonic()
        doc = json.loads(data) if data else {}
        if status != 200 or doc.get("success") is not True:
            raise BenchError(f"card move of task {task}: {status} {data[:300]!r}")
        if doc["revision"] != self.rev + 1 or set(doc) != {"success", "type", "requestId",
                                                          "revision"}:
            raise BenchError(f"card move at revision {self.rev}: the answer is not the next "
                             f"revision alone: {data[:300]!r}")
        self.rev = doc["revision"]
        self.answered[self.rev] = now
        return change

    def fixed(self, rate: float, seconds: float):
        """rate moves per second, on a schedule (a late move does not make the next early)."""
        start = time.monotonic()
        for i in range(int(round(rate * seconds))):
            wait = start + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self.move()
        wait = start + seconds - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    def flat_out(self, seconds: float):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.move()

    def close(self):
        self.http.close()


# ---------------------------------------------------------------------------------------------
# the bench

@dataclasses.dataclass
class Window:
    """What the servers did while something ran: wall time, statements, pings, CPU."""
    seconds: float = 0.0
    questions: int = 0
    pings: int = 0
    httpd_cpu: float = 0.0
    db_cpu: float = 0.0
    client_cpu: float = 0.0
    wire_bytes: int = 0
    revisions: int = 0
    extra: dict = dataclasses.field(default_factory=dict)

    def rate(self, attr: str) -> float:
        return getattr(self, attr) / self.seconds


class Live:
    def __init__(self, settings: Settings, env: dict, root: str, base: str):
        self.s = settings
        self.env, self.root, self.base = env, root, base
        self.port = int(env["TB_HTTP_PORT"])
        self.db = Db(env)
        self.ids = Ids(30000000000000 + (os.getpid() % 1000) * 10**9)
        self.board = {}
        self.delta = {}
        self.fanouts = {}           # poll -> {"fixed": [...], "max": [...], ...}
        self.compare = {}
        self.poll = None

    # -- servers

    def configure(self, poll: str):
        """httpd.conf: the demo configuration, then MPM_CONF and TaskBoardEventsPoll (a server
        directive: a new value needs a new httpd)."""
        conf_dir = os.path.join(self.root, "conf")
        with open(os.path.join(conf_dir, "httpd.conf"), "w") as f:
            f.write("# generated by tests/bench/live.py: the demo configuration, then the "
                    "live bench's own\n"
                    f'Include "{conf_dir}/demo.conf"\n\n{live_conf(poll)}')
        self.poll = poll

    def restart(self, poll: str):
        tbctl(self.env, "httpd-stop", self.root)
        self.configure(poll)
        tbctl(self.env, "httpd-start", self.root, self.base + "/")
        self.wait_children()

    def wait_children(self):
        """Until both processes of StartServers 2 run (a poll per process is what we count)."""
        deadline = time.monotonic() + 10
        while len(httpd_children(self.root)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)

    def mariadb_pid(self) -> int:
        with open(os.path.join(self.env["TB_STATE_DIR"], "mariadb", "mysqld.pid")) as f:
            return int(f.read().strip())

    def httpd_pids(self) -> List[int]:
        with open(os.path.join(self.root, "logs", "httpd.pid")) as f:
            return [int(f.read().strip())] + httpd_children(self.root)

    def counters(self) -> dict:
        c = self.db.counters()
        pids = self.httpd_pids()
        return {"t": time.monotonic(), "questions": c["Questions"],
                "pings": c["Com_admin_commands"], "pids": pids,
                "httpd": {pid: proc_cpu(pid) for pid in pids},
                "db": proc_cpu(self.mariadb_pid())}

    def window(self, before: dict, after: dict, clients: Optional[ClientProc] = None,
               c0=None, c1=None) -> Window:
        w = Window(seconds=after["t"] - before["t"],
                   questions=after["questions"] - before["questions"] - 1,
                   pings=after["pings"] - before["pings"],
                   db_cpu=after["db"] - before["db"])
        # a process that started or ended meanwhile counts from 0 or up to its last reading
        for pid in set(before["httpd"]) | set(after["httpd"]):
            w.httpd_cpu += after["httpd"].get(pid, before["httpd"].get(pid, 0)) \
                - before["httpd"].get(pid, 0)
        if set(before["httpd"]) != set(after["httpd"]):
            w.extra["httpd_processes_changed"] = True
        if clients is not None:
            w.client_cpu = c1["cpu"] - c0["cpu"]
            w.wire_bytes = (c1["sent"] + c1["received"]) - (c0["sent"] + c0["received"])
        return w

    def connections_per_process(self) -> List[int]:
        """The established connections on httpd's port that each child holds (0 for a child
        whose sockets cannot be read)."""
        counts = procfs.established(self.port, httpd_children(self.root))
        return sorted(n or 0 for n in counts.values())

    def held_streams(self) -> int:
        """Connections that httpd's children still hold although the client closed them:
        CLOSE_WAIT on httpd's port, or a socket already reset and gone from /proc/net/tcp.  A
        stream whose client went away keeps its worker until the module sees the close (it
        looks every 2 s while it waits) or a write to it fails."""
        port = f":{self.port:04X}"
        rows = procfs.tcp_sockets()
        known = {row[9] for row in rows}
        held = sum(1 for row in rows if row[1].endswith(port) and row[3] == "08")
        with open("/proc/net/unix") as f:
            next(f)
            unix = {line.split()[6] for line in f if len(line.split()) > 6}
        for pid in httpd_children(self.root):
            try:
                inodes = procfs.socket_inodes(pid)
            except OSError:
                continue
            held += sum(1 for i in inodes if i not in known and i not in unix)
        return held

    def db_now(self):
        return self.db.value("SELECT NOW(6)")

    # -- the board

    def use_board(self):
        board = subprocess.run([os.path.join(HERE, "make_board.sh"), str(self.s.tasks)],
                               check=True, capture_output=True).stdout
        tbctl(self.env, "db-sql", stdin=board)
        # journal rows of earlier runs on this state dir name records of another board
        self.db.rows("TRUNCATE TABLE `taskboard_journal`")
        self.board = {t: self.db.value(f"SELECT COUNT(*) FROM `{t}`") for t in STORES}

    # -- a. delta size

    def load_path(self, since: Optional[int] = None) -> str:
        package = {"type": "load", "requestId": self.ids(), "stores": STORES}
        if since is not None:
            package["sinceRevision"] = since
        return "/api/load?data=" + urllib.parse.quote(
            json.dumps(package, separators=(",", ":")), safe="")

    def measure_delta(self):
        """Client A moves a card; client B (one keep-alive connection) then sends, timed one by
        one with MariaDB's Questions read around each: an empty sync with its revision from
        before the move (the delta), a load with that sinceRevision, an empty sync up to date,
        a full load (the first after the move: read from the database), the same load again
        (from the process's cache), the same with Accept-Encoding: gzip (the cached answer is
        compressed, once per revision and process), and that once more (the compressed copy).
        """
        writer = Writer(self.port, self.db.revision(), self.s.tasks, self.ids)
        b = Http(self.port)
        kinds = ["delta sync", "delta load", "up-to-date sync", "full load, after the move",
                 "full load, cached", "full load, gzip", "full load, gzip again"]
        got = {k: {"bytes": [], "ms": [], "statements": [], "gzip": [], "encoding": []}
               for k in kinds}
        rev_b = writer.rev
        try:
            for _ in range(self.s.requests):
                change = writer.move()
                for kind in kinds:
                    if kind.endswith("sync"):
                        rev = rev_b if kind == "delta sync" else writer.rev
                        method, path, body, headers = "POST", "/api/sync", json.dumps(
                            {"type": "sync", "requestId": self.ids(), "revision": rev}).encode(), {}
                    else:
                        method, body = "GET", None
                        path = self.load_path(rev_b if kind == "delta load" else None)
                        headers = {"Accept-Encoding": "gzip"} if "gzip" in kind else {}
                    q0 = self.db.counters()["Questions"]
                    status, h, data, seconds = b.request(method, path, body, headers)
                    q1 = self.db.counters()["Questions"]
                    if status != 200:
                        raise BenchError(f"{kind}: {status} {data[:300]!r}")
                    encoding = h.get("Content-Encoding", "")
                    plain = gzip.decompress(data) if encoding == "gzip" else data
                    self.check_delta(kind, plain, change, writer.rev)
                    g = got[kind]
                    g["bytes"].append(len(data))
                    g["ms"].append(seconds * 1000)
                    g["statements"].append(q1 - q0 - 1)
                    g["encoding"].append(encoding)
                    g["gzip"].append(len(gzip.compress(plain, 6)))
                rev_b = writer.rev
        finally:
            writer.close()
            b.close()
        self.delta = got

    def check_delta(self, kind: str, data: bytes, change: dict, rev: int):
        doc = json.loads(data)
        if doc.get("success") is not True or doc.get("revision") != rev:
            raise BenchError(f"{kind}: not a success at revision {rev}: {data[:300]!r}")
        if kind.startswith("delta"):
            rows = doc.get("tasks", {}).get("rows", [])
            if (doc.get("type") != "sync" or set(doc) - {"success", "type", "requestId",
                                                          "revision", "tasks"}
                    or len(rows) != 1 or rows[0]["id"] != change["id"]
                    or rows[0]["status"] != change["status"]
                    or rows[0]["weight"] != change["weight"]):
                raise BenchError(f"{kind}: not exactly the moved card {change}: {data[:400]!r}")
        elif kind == "up-to-date sync":
            if set(doc) != {"success", "type", "requestId", "revision"}:
                raise BenchError(f"{kind}: more than the revision: {data[:300]!r}")
        else:
            for store in STORES:
                if len(doc[store]["rows"]) != self.board[store]:
                    raise BenchError(f"{kind}: {store} has {len(doc[store]['rows'])} rows, "
                                     f"the table {self.board[store]}")

    # -- b. fan-out

    def general_log(self, on: bool):
        if on:
            self.db.rows("SET GLOBAL general_log = 0")
            self.db.rows("TRUNCATE TABLE mysql.general_log")
            self.db.rows("SET GLOBAL log_output = 'TABLE'")
            self.db.rows("SET GLOBAL general_log = 1")
        else:
            self.db.rows("SET GLOBAL general_log = 0")
            self.db.rows("TRUNCATE TABLE mysql.general_log")
            self.db.rows("SET GLOBAL log_output = 'FILE'")

    def logged(self, since, until, like: str) -> int:
        return self.db.value("SELECT COUNT(*) FROM mysql.general_log WHERE command_type = "
                             "'Execute' AND event_time >= %s AND event_time <= %s AND "
                             "argument LIKE %s", (since, until, like))

    def subscribe(self) -> ClientProc:
        """The subscribers, each with its "ready" at the board's revision."""
        rev = self.db.revision()
        sse = ClientProc("sse", self.port, self.s.subscribers)
        try:
            ready = sse.cmd("ready 30")
            if (ready["ready"] != self.s.subscribers or ready["revisions"] != [rev]
                    or ready["statuses"] != {"200": self.s.subscribers} or ready["error"]):
                raise BenchError(f"{self.s.subscribers} subscribers, revision {rev}: {ready}")
        except BaseException:
            sse.close()
            raise
        return sse

    def fanout(self, poll: str):
        """The subscribers stay connected through TB_LIVE_REPS runs at TB_LIVE_RATE and as many
        as fast as the writer can; afterwards each must have got every revision since its ready
        event exactly once, in order."""
        progress(f"fan-out, TaskBoardEventsPoll {poll}: {self.s.subscribers} subscribers")
        t = time.monotonic()
        sse = self.subscribe()
        result = {"ready_s": round(time.monotonic() - t, 2), "fixed": [], "max": [],
                  "per_process": self.connections_per_process()}
        writer = Writer(self.port, self.db.revision(), self.s.tasks, self.ids)
        first = writer.rev + 1
        self.general_log(True)
        try:
            for kind in ("fixed", "max"):
                for _ in range(self.s.reps):
                    result[kind].append(self.fanout_run(sse, writer, kind))
            dump = os.path.join(self.env["TB_STATE_DIR"], f"live-sse-{poll}.json")
            sse.cmd(f"dump {dump}")
        finally:
            self.general_log(False)
            writer.close()
            sse.close()
        with open(dump) as f:
            subs = json.load(f)["subs"]
        result["check"] = check_streams(subs, first, writer.rev)
        for kind in ("fixed", "max"):
            for run in result[kind]:
                run_events(run, subs, writer.answered)
        result["children"] = len(httpd_children(self.root))
        self.fanouts[poll] = result

    def fanout_run(self, sse: ClientProc, writer: Writer, kind: str) -> dict:
        c0, t0 = sse.cmd("counters"), self.db_now()
        rev0 = writer.rev
        start = time.monotonic()
        if kind == "fixed":
            writer.fixed(self.s.rate, self.s.seconds)
        else:
            writer.flat_out(self.s.max_seconds)
        end = time.monotonic()
        t1 = self.db_now()
        drained = sse.cmd(f"wait {writer.rev} 20")
        if not drained["ok"]:
            raise BenchError(f"{drained['behind']} of {self.s.subscribers} subscribers did not "
                             f"get revision {writer.rev} within 20 s of the run's end "
                             f"({drained['closed']} streams closed)")
        c1 = sse.cmd("counters")
        seconds = (t1 - t0).total_seconds()
        run = {"first": rev0 + 1, "last": writer.rev, "start": start, "end": end,
               "seconds": end - start, "db_seconds": seconds,
               "revisions_per_s": (writer.rev - rev0) / (end - start),
               "polls": self.logged(t0, t1, POLL_LIKE),
               "resume_reads": self.logged(t0, t1, RESUME_LIKE),
               "client_cpu": c1["cpu"] - c0["cpu"], "bytes": c1["received"] - c0["received"],
               "drained_s": drained["t"] - writer.answered[writer.rev]}
        run["polls_per_s"] = run["polls"] / seconds
        run["resume_reads_per_s"] = run["resume_reads"] / seconds
        progress(f"  {kind}: {run['revisions_per_s']:.0f} revisions/s, "
                 f"{run['polls_per_s']:.1f} polls/s, {run['resume_reads_per_s']:.1f} "
                 f"subscriber journal reads/s, all delivered {run['drained_s']:.2f} s after "
                 "the last sync")
        return run

    # -- c. SSE against polling

    def compare_all(self, kinds=COMPARE_SIDES):
        """Alternately, TB_LIVE_REPS times, of kinds: the writer alone; the subscribers, on an
        idle board and then with the writer; the polling clients, idle and with the writer;
        the subscribers that fetch each change with an empty sync, with the writer.  Windows
        of TB_LIVE_COMPARE_SECONDS, the writer at TB_LIVE_RATE, general log off."""
        progress(f"SSE against polling, TaskBoardEventsPoll {self.poll}: {', '.join(kinds)}")
        # in this order, the streams of a side have had events written to them in the writer's
        # window of the next side (alone, poll) before the next side with streams connects: a
        # closed stream holds its worker until the module sees the close (within 2 s)
        order = [k for k in ("alone", "sse", "poll", "sse+sync") if k in kinds]
        sides = {kind: [] for kind in COMPARE_SIDES if kind in kinds}
        for _ in range(self.s.reps):
            for kind in order:
                sides[kind].append({"busy": self.compare_alone()} if kind == "alone"
                                   else self.compare_clients(kind))
        self.compare[self.poll] = sides
        for kind, runs in sides.items():
            figures = []
            for name in ("idle", "busy"):
                if name in runs[0]:
                    q = median(r[name].rate("questions") for r in runs)
                    cpu = median(r[name].rate("httpd_cpu") + r[name].rate("db_cpu")
                                 for r in runs)
                    figures.append(f"{name} {q:,.0f} statements/s {100 * cpu:.0f}% CPU")
            progress(f"  {kind}: " + ", ".join(figures))

    def measured(self, seconds: float, clients=None, writer: Optional[Writer] = None) -> Window:
        """A window of seconds: idle, or with the writer at TB_LIVE_RATE."""
        held = self.held_streams()
        before = self.counters()
        c0 = clients.cmd("counters") if clients else None
        rev0 = writer.rev if writer else None
        if writer:
            writer.fixed(self.s.rate, seconds)
        else:
            time.sleep(seconds)
        after = self.counters()
        c1 = clients.cmd("counters") if clients else None
        w = self.window(before, after, clients, c0, c1)
        w.extra["held_streams"] = held
        if clients:
            w.extra["answers"] = c1["answers"] - c0["answers"]
        if writer:
            w.revisions = writer.rev - rev0
            w.extra["first"], w.extra["last"] = rev0 + 1, writer.rev
        return w

    def compare_alone(self) -> Window:
        writer = Writer(self.port, self.db.revision(), self.s.tasks, self.ids)
        try:
            return self.measured(self.s.compare_seconds, writer=writer)
        finally:
            writer.close()

    def compare_clients(self, kind: str) -> dict:
        """The clients of kind (sse, sse+sync, poll) connected; an idle window (not for
        sse+sync, which is sse while nothing changes), then one with the writer; every client
        must have the writer's last revision soon after."""
        rev = self.db.revision()
        n = self.s.subscribers
        proc = (ClientProc("poll", self.port, n, self.s.period) if kind == "poll"
                else ClientProc(kind, self.port, n))
        writer = None
        out = {}
        try:
            ready = proc.cmd("ready 30")
            if ready["ready"] != n or ready["revisions"] != [rev] or ready["error"]:
                raise BenchError(f"{n} clients ({kind}) at revision {rev}: {ready}")
            time.sleep(0.2)
            if kind != "sse+sync":
                out["idle"] = self.measured(self.s.compare_seconds, proc)
            writer = Writer(self.port, self.db.revision(), self.s.tasks, self.ids)
            first = writer.rev + 1
            out["busy"] = w = self.measured(self.s.compare_seconds, proc, writer)
            caught = proc.cmd(f"wait {writer.rev} {10 + 3 * self.s.period}")
            if not caught["ok"]:
                raise BenchError(f"{caught['behind']} of {n} clients ({kind}) never saw "
                                 f"revision {writer.rev}")
            dump = os.path.join(self.env["TB_STATE_DIR"], f"live-compare-{kind}.json")
            proc.cmd(f"dump {dump}")
        finally:
            if writer:
                writer.close()
            proc.close()
        with open(dump) as f:
            seen = json.load(f)
        if "subs" in seen:
            check_streams(seen["subs"], first, writer.rev)
        syncs = seen.get("syncs") or seen.get("pollers") or []
        errors = [e for c in syncs for e in c["errors"]]
        if errors:
            raise BenchError(f"{sum(c['error_count'] for c in syncs)} empty syncs of the "
                             f"clients ({kind}) failed, the first: {errors[:3]}")
        delays = []
        if kind == "sse":
            delays = [t - writer.answered[r] for sub in seen["subs"]
                      for r, t in zip(sub["revs"], sub["times"]) if first <= r]
        for c in syncs:
            for t, before, after in c["seen"]:
                delays += [t - writer.answered[r] for r in range(max(before + 1, first),
                                                                 after + 1)]
        w.extra["delay_ms"] = [round(d * 1000, 2) for d in delays]
        if syncs:
            w.extra["sync_ms"] = round(median(x * 1000 for c in syncs
                                              for x in c["latencies"]), 2)
        return out


def live_conf(poll: str) -> str:
    return ("# tests/bench/live.py: room for 200 event streams and the other requests\n"
            + MPM_CONF + f"\n# how often each process reads the journal for its streams\n"
            f"TaskBoardEventsPoll {poll}\n")


def check_streams(subs: List[dict], first: int, last: int) -> dict:
    """Every subscriber: answered 200, ready at first - 1, then every revision first..last once,
    in order, each event naming the tasks store alone, the stream still open.  Raises
    BenchError with the first subscriber that did not."""
    expected = list(range(first, last + 1))
    for i, s in enumerate(subs):
        problem = None
        if s["status"] != 200 or s["ready"] != first - 1:
            problem = f"status {s['status']}, ready at {s['ready']} (expected {first - 1})"
        elif s["revs"] != expected:
            got = s["revs"]
            k = next((k for k, (x, y) in enumerate(zip(got, expected)) if x != y),
                     min(len(got), len(expected)))
            problem = (f"{len(got)} events for {len(expected)} revisions; from index {k}: "
                       f"got {got[k:k + 5]}, expected {expected[k:k + 5]}")
        elif s["odd_count"]:
            problem = f"{s['odd_count']} unexpected blocks, the first: {s['odd']}"
        elif s["closed"]:
            problem = "the stream was closed"
        if problem:
            raise BenchError(f"subscriber {i} of {len(subs)}: {problem}")
    return {"subscribers": len(subs), "revisions": len(expected),
            "events": len(subs) * len(expected),
            "heartbeats": sum(s["comments"] for s in subs)}


def run_events(run: dict, subs: List[dict], answered: dict):
    """The run's events: how many, delivered per second (from the run's first sync to the last
    event's arrival), the delay of each from its sync's answer."""
    delays, last_arrival = [], run["start"]
    for s in subs:
        for r, t in zip(s["revs"], s["times"]):
            if run["first"] <= r <= run["last"]:
                delays.append(t - answered[r])
                last_arrival = max(last_arrival, t)
    run["events"] = len(delays)
    run["events_per_s"] = len(delays) / (last_arrival - run["start"])
    run["drained_s"] = last_arrival - answered[run["last"]]
    run["delay_ms"] = [round(d * 1000, 2) for d in delays]


# ---------------------------------------------------------------------------------------------
# the report

def fmt_ms(values) -> str:
    return f"{median(values):,.1f} / {percentile(values, 99):,.1f}"


def delta_table(live: Live) -> List[str]:
    d = live.delta
    full = median(d["full load, after the move"]["bytes"])
    rows = [
        ("empty sync one revision behind: the delta (1 task row)", "delta sync", "python"),
        ("load with `sinceRevision` one revision behind (answers `\"type\":\"sync\"`)",
         "delta load", "python"),
        ("empty sync, up to date", "up-to-date sync", "python"),
        ("full load, the first after the move (read from the database)",
         "full load, after the move", "python"),
        ("full load, revision unchanged (from the process's cache)", "full load, cached",
         "python"),
        ("full load with `Accept-Encoding: gzip`, the first at this revision (compresses the "
         "cached answer)", "full load, gzip", "module"),
        ("full load with `Accept-Encoding: gzip` again (the compressed copy)",
         "full load, gzip again", "module"),
    ]
    out = ["| request (client B) | answer bytes | gzip bytes | median ms | statements | "
           "bytes vs full load |",
           "|---|--:|--:|--:|--:|--:|"]
    for label, kind, how in rows:
        g = d[kind]
        plain = median(g["bytes"]) if how == "python" else None
        encodings = sorted(set(g["encoding"]))
        if how == "module":
            gz = [b for b, e in zip(g["bytes"], g["encoding"]) if e == "gzip"]
            gz_text = f"{median(gz):,.0f} (module)" if gz else "never compressed"
            size = "–"
            ratio = f"{median(gz) / full:.2%}" if gz else "–"
            note = (f"; {len(g['bytes']) - len(gz)} of {len(g['bytes'])} uncompressed"
                    if len(gz) != len(g["bytes"]) else "")
            gz_text += note
        else:
            gz_text = f"{median(g['gzip']):,.0f} (Python, level 6)"
            size = f"{plain:,.0f}"
            ratio = f"{plain / full:.2%}"
            if encodings != [""]:
                gz_text += f" (module sent {encodings})"
        out.append(f"| {label} | {size} | {gz_text} | {median(g['ms']):.2f} "
                   f"| {median(g['statements']):.0f} | {ratio} |")
    return out


def fanout_table(live: Live) -> List[str]:
    out = ["| TaskBoardEventsPoll | writer | subscribers (connections per process) "
           "| revisions/s | events delivered/s | every revision once, in order "
           "| delay median / p99 ms | poll statements/s | subscribers' own journal reads/s "
           "| all delivered after the last sync, s | subscribers' client CPU % |",
           "|---|---|--:|--:|--:|---|--:|--:|--:|--:|--:|"]
    for poll, f in live.fanouts.items():
        for kind, label in (("fixed", f"{live.s.rate:g} card moves/s"),
                            ("max", "as fast as it can")):
            runs = f[kind]
            delays = [d for r in runs for d in r["delay_ms"]]
            check = f["check"]
            out.append(
                f"| {poll} | {label} | {check['subscribers']} "
                f"({' + '.join(map(str, f['per_process']))}) "
                f"| {median(r['revisions_per_s'] for r in runs):,.1f} "
                f"| {median(r['events_per_s'] for r in runs):,.0f} "
                f"| yes: {sum(r['events'] for r in runs):,} events "
                f"| {fmt_ms(delays)} "
                f"| {median(r['polls_per_s'] for r in runs):.2f} "
                f"| {median(r['resume_reads_per_s'] for r in runs):.1f} "
                f"| {median(r['drained_s'] for r in runs):.2f} "
                f"| {median(100 * r['client_cpu'] / r['seconds'] for r in runs):.0f} |")
    return out


def compare_table(live: Live) -> List[str]:
    n, rate, period = live.s.subscribers, live.s.rate, live.s.period
    labels = {("sse", "idle"): f"idle board: {n} SSE subscribers",
              ("poll", "idle"): f"idle board: {n} clients polling, an empty sync every "
                                f"{period:g} s",
              ("alone", "busy"): f"{rate:g} card moves/s: the writer alone",
              ("sse", "busy"): f"{rate:g} card moves/s: {n} SSE subscribers (events only)",
              ("sse+sync", "busy"): f"{rate:g} card moves/s: {n} SSE subscribers, each "
                                    "fetching the changes with an empty sync",
              ("poll", "busy"): f"{rate:g} card moves/s: {n} clients polling, an empty sync "
                                f"every {period:g} s"}

    def cpu(w):
        return w.rate("httpd_cpu") + w.rate("db_cpu")

    out = ["| TaskBoardEventsPoll | clients, board | statements/s | pings/s "
           "| client syncs answered/s | HTTP bytes/s on the wire | httpd CPU % | MariaDB CPU % "
           "| httpd + MariaDB CPU % | statements/s, CPU % above the writer alone "
           "| the client has the change after, median / p99 ms | clients' own CPU % |",
           "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for poll, sides in live.compare.items():
        def m(side, name, fn):
            return median(fn(r[name]) for r in sides[side])

        alone_cpu = m("alone", "busy", cpu)
        alone_q = m("alone", "busy", lambda w: w.rate("questions"))
        for (side, name), label in labels.items():
            if side not in sides:
                continue
            q = m(side, name, lambda w: w.rate("questions"))
            c = m(side, name, cpu)
            delays = [d for r in sides[side] for d in r[name].extra.get("delay_ms", [])]
            above = (f"{q - alone_q:+,.1f}, {100 * (c - alone_cpu):+.1f}"
                     if name == "busy" and side != "alone" else "–")
            own = ("–" if side == "alone"
                   else f"{100 * m(side, name, lambda w: w.rate('client_cpu')):.0f}")
            out.append(
                f"| {poll} | {label} | {q:,.1f} "
                f"| {m(side, name, lambda w: w.rate('pings')):,.1f} "
                f"| {m(side, name, lambda w: w.extra.get('answers', 0) / w.seconds):,.1f} "
                f"| {m(side, name, lambda w: w.rate('wire_bytes')):,.0f} "
                f"| {100 * m(side, name, lambda w: w.rate('httpd_cpu')):.1f} "
                f"| {100 * m(side, name, lambda w: w.rate('db_cpu')):.1f} | {100 * c:.1f} "
                f"| {above} | {fmt_ms(delays) if delays else '–'} | {own} |")
    return out


def section(live: Optional[Live], started: float, load_start: str, version: str,
            failure: Optional[str], log: List[str]) -> str:
    s = live.s if live else Settings.from_env()
    lines = [
        "## Live boards",
        "",
        f"- module: {version}; {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; wall time "
        f"{time.monotonic() - started:.0f} s (`make -f Makefile.apxs bench-live`, "
        "tests/bench/live.py)",
        f"- machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}; load average {load_start} "
        f"at the start, {loadavg()} at the end. The Python clients, httpd and MariaDB share "
        "these CPUs (and whatever else runs on the machine): the figures are noisy, rates are "
        f"medians of {s.reps} runs, delays are pooled over the runs",
        "- servers: one MariaDB and one httpd: the demo configuration (/api/sync with "
        "`TaskBoardJournal` and `TaskBoardConflictPolicy record`, /api/events), its event MPM "
        "set to 2 processes x 256 threads (MaxRequestWorkers 512), `TaskBoardEventsPoll` as "
        "given",
    ]
    if live and live.board:
        b = live.board
        lines.append(f"- board M: {b['tasks']:,} tasks, {b['resources']:,} resources, "
                     f"{b['assignments']:,} assignments (make_board.sh {s.tasks})")
    if live and live.delta:
        lines += ["", f"### Delta against full load ({s.requests} rounds: client A moves a "
                  "card, then client B's requests one after another on one keep-alive "
                  "connection)", ""]
        lines += delta_table(live)
        lines += ["",
                  "- statements: MariaDB's Questions during the request (median); the module "
                  "gzips only loads, and only those served from its cache (a load that reads "
                  "the database, as the first one after a change in each process, goes out "
                  "uncompressed), so the other rows' gzip size is Python's (zlib level 6, the "
                  "module's level) for comparison; bytes vs full load: answer bytes (gzip rows: "
                  "gzip bytes) / the plain full load."]
    if live and live.fanouts:
        lines += ["", f"### Fan-out: {s.subscribers} Server-Sent Events subscribers, one writer",
                  ""]
        lines += fanout_table(live)
        f0 = next(iter(live.fanouts.values()))
        lines += [
            "",
            f"- per TaskBoardEventsPoll: a new httpd; the subscribers (one Python process, one "
            f"selector thread, raw sockets; all ready within {f0['ready_s']} s) stay connected "
            f"through {s.reps} runs of {s.seconds:g} s at {s.rate:g} card moves/s, then "
            f"{s.reps} runs of {s.max_seconds:g} s with the writer (one keep-alive connection, "
            "each sync with the revision of its last answer) going as fast as it can; after "
            "each run the bench waits until every subscriber has the last revision.",
            "- every revision once, in order: each subscriber's unnamed events, from its "
            "`ready` event on, are exactly the writer's revisions, each "
            "`{\"revision\":R,\"stores\":[\"tasks\"]}`, and its stream is still open; "
            "otherwise the bench fails.",
            "- events delivered/s: the run's events (subscribers x revisions) / the time from "
            "the run's first sync to the arrival of its last event. Delay: from the arrival "
            "of the sync's answer at the writer to the event's arrival at a subscriber "
            "(time.monotonic() in both processes).",
            "- poll statements/s: executions of the poller's statement `(SELECT `value`, NULL "
            "FROM `options` ...) UNION ALL (SELECT DISTINCT `revision`, `tbl` FROM "
            "`taskboard_journal` ...)` in MariaDB's general log (log_output TABLE, on during "
            "the fan-out runs only, which slows the writer), per second of the run; each poll "
            "also borrows a connection from mod_dbd, which pings it. Subscribers' own journal "
            "reads: a subscriber further behind than the last 4,096 revisions the process "
            "keeps in memory reads the journal itself (`SELECT `revision`, `tbl`, "
            "`record_id`, `operation` FROM `taskboard_journal` ...`).",
        ]
    if live and live.compare:
        polls = list(live.compare)
        lines += ["", f"### SSE against polling: {s.subscribers} clients", ""]
        lines += compare_table(live)
        lines += [
            "",
            f"- {s.reps} rounds with TaskBoardEventsPoll {polls[0]}, each: the writer alone "
            f"({s.rate:g} card moves/s), then the subscribers (idle board, then with the "
            "writer), the polling clients (idle, then with the writer), the subscribers that "
            "fetch (with the writer)"
            + (f"; with {', '.join(polls[1:])}, the writer alone and the subscribers that "
               "fetch" if polls[1:] else "")
            + f"; windows of {s.compare_seconds:g} s, medians over the rounds; MariaDB's "
            "general log off; connecting and starting the clients is outside the windows.",
            "- statements/s: MariaDB's Questions; pings/s: Com_admin_commands (mod_dbd's "
            "COM_PING on every connection it hands out: the polls, the syncs). CPU: utime + "
            "stime from /proc/PID/stat of the httpd parent and children and of mariadbd per "
            "second of the window (100% = one CPU); the clients' own CPU (Python) is not in "
            "it. Bytes: HTTP bytes the clients sent and received during the window (headers "
            "and chunk framing included, TCP/IP not); the writer's are not counted.",
            "- the client has the change after: from the writer's sync answer until the "
            "client has the change: for events only, until the event that says the revision "
            "exists arrives (the client still has to fetch it); for subscribers that fetch "
            "(as docs/protocol.md's EventSource example: an empty sync when an event is ahead of "
            "its last answer, one sync at a time) and for polling clients, until the sync "
            "answer that carries it.",
            "- an empty sync behind the board reads the revision, then in one snapshot the "
            "journal and the changed records, 16 at a time with one statement per store (6 "
            "statements for a card move, see the delta table); a poll up to date costs one "
            "statement.",
        ]
        held = {}
        for sides in live.compare.values():
            for side, runs in sides.items():
                held[side] = max([held.get(side, 0)] + [w.extra.get("held_streams", 0)
                                                         for r in runs for w in r.values()])
        if any(held.values()):
            lines.append(
                "- closed streams still holding their workers at the start of a window (a "
                "stream whose client left is ended when the module sees the close, within "
                "2 s, or at a failed write), most at once: "
                + ", ".join(f"{side} {n}" for side, n in held.items()) + ".")
    if Writer.retries:
        lines += ["", f"- the writer sent {Writer.retries} syncs again (same requestId and "
                  "body) after httpd closed its idle keep-alive connection as the request went "
                  "out."]
    lines += section_end(log, failure, "The live bench")
    return "\n".join(lines) + "\n"


def save_raw(live: Live):
    compare = {poll: {k: [{name: dataclasses.asdict(w) for name, w in r.items()} for r in v]
                      for k, v in sides.items()}
               for poll, sides in live.compare.items()}
    with open(os.path.join(live.env["TB_STATE_DIR"], "live.json"), "w") as f:
        json.dump({"settings": dataclasses.asdict(live.s), "board": live.board,
                   "delta": live.delta, "fanout": live.fanouts, "compare": compare}, f)


def prepare_schema(env):
    tbctl(env, "db-load", os.path.join(REPO, "sql", "schema.sql"))


def main() -> int:
    settings = Settings.from_env()
    started, load_start = time.monotonic(), loadavg()
    failure, live, log = None, None, []
    version = "unknown"
    first_poll = settings.polls[0] if settings.polls else "1s"
    with servers(prepare_schema, live_conf(first_poll)) as (env, root, base):
        version = module_version(env)
        log_start = error_log_end(root)
        progress(where(env, base))
        try:
            live = Live(settings, env, root, base)
            live.poll = first_poll
            live.wait_children()
            live.use_board()
            progress(f"board M: {live.board}")
            live.measure_delta()
            progress("delta: " + ", ".join(f"{k} {median(v['bytes']):,.0f} B "
                                           f"{median(v['ms']):.2f} ms"
                                           for k, v in live.delta.items()))
            for i, poll in enumerate(settings.polls):
                if i:
                    live.restart(poll)
                live.fanout(poll)
                live.compare_all(COMPARE_SIDES if i == 0 else ("alone", "sse+sync"))
        except BenchError as e:
            failure = str(e)
        log = error_log_since(root, log_start)
        text = section(live, started, load_start, version, failure, log)
        path = save_section(env["TB_STATE_DIR"], "Live boards", text)
        if live:
            save_raw(live)
    return finish("bench-live", text, path, failure)


if __name__ == "__main__":
    sys.exit(main())
