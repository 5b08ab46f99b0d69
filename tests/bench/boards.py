#!/usr/bin/python3
"""The benchmark of many boards: make -f Makefile.apxs bench-boards (see tests/bench/README.md).

What board scoping (TaskBoardScope) and per-board authorization (TaskBoardAuthzQuery) cost.  One
MariaDB and one httpd on free loopback ports, state in $TB_STATE_DIR (default state/bench);
everything is stopped by pid however the run ends.  The database holds TB_BOARDS_COUNT boards of
TB_BOARDS_TASKS tasks each (resources and assignments like make_board.sh's) in the tables of
sql/boards.sql, and the same tasks once more as the only board of the sample tables
(make_board.sh).  httpd serves the demo configuration plus conf/taskboard-boards.conf, read from
the repository (see bench_conf).

  load       a load of tasks, resources and assignments of board 7, revision unchanged (from the
             load cache), at each TB_BOARDS_C: the scoped board (/boards/7/load) against the
             sample board as the demo serves it (/api/load, more fields) and against the sample
             tables served with the scoped board's fields but no scope (/flat/load)
  nocache    the same with TaskBoardLoadCache Off: every load reads the stores
  auth       the scoped load behind the last block of taskboard-boards.conf (Basic from a
             password file + TaskBoardAuthzQuery) against the same without authentication, and
             against Basic alone (no TaskBoardAuthzQuery)
  sync       one card move per request (sync.lua "move"), TaskBoardConflictPolicy off, on the
             scoped board against the demo's /api and /flat

The sides of a scenario run in turn (scoped, baseline, other baseline, scoped, ...); the table
shows medians over TB_BENCH_REPS runs of TB_BENCH_SECONDS, and ratios scoped / baseline.  Before
the runs the scoped answer is checked against the database (exactly board 7's rows) and against
/flat's (the same rows and fields), and one request of every side goes through with MariaDB's
general log on ($TB_STATE_DIR/boards-statements.log).  The section "Many boards" goes into
$TB_STATE_DIR/results.md (replacing one an earlier run left there), the raw figures into
$TB_STATE_DIR/boards.json.  The bench fails (exit 1) only on errors: a non-2xx answer, a socket
error, a wrong answer, a sync that was not applied; never on a slow figure.
"""

import base64
import dataclasses
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Dict, List, Optional, Tuple

from benchlib import (REPO, BenchError, Db, env_int, env_list, error_log_end, error_log_since,
                      finish, httpd_children, quiesce, save_section, section_end, servers, tbctl,
                      where, wrk)
from bench import Sample, cpu_model, loadavg, module_version
from live import proc_cpu

HERE = os.path.dirname(os.path.abspath(__file__))
LOAD_LUA = os.path.join(HERE, "load.lua")
SYNC_LUA = os.path.join(HERE, "sync.lua")
BOARDS_CONF = os.path.join(REPO, "conf", "taskboard-boards.conf")
MODULES = "/usr/lib/apache2/modules"

STORES = ["tasks", "resources", "assignments"]
# the board the bench measures; its rows get the ids 1..N (the sample board's ids), because
# sync.lua moves the cards 1..TASKS
BOARD = 7
# the user of the password file, with 'write' on board BOARD in board_access
USER, PASSWORD = "alice", "bench-secret"
AUTH_HEADER = "Authorization: Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
# requestIds of the 14 digits that load.lua and sync.lua use, for the checks and the recording
REQUEST_ID = 10000000000000
# the general log's first line of an entry: thread id, command, text
GENERAL_LOG_LINE = re.compile(r"^(?:\d{6}\s+[\d:]+)?\s+(\d+) (Query|Execute|Prepare)\t(.*)")


@dataclasses.dataclass
class Settings:
    """The knobs, from TB_BENCH_* and TB_BOARDS_* (see README.md)."""
    reps: int
    seconds: int
    conc: List[int]
    parts: List[str]
    boards: int
    tasks: int

    @classmethod
    def from_env(cls):
        s = cls(reps=env_int("TB_BENCH_REPS", 3),
                seconds=env_int("TB_BENCH_SECONDS", 3),
                conc=[int(c) for c in env_list("TB_BOARDS_C", "1,8")],
                parts=env_list("TB_BOARDS_PARTS", "load,nocache,auth,sync"),
                boards=env_int("TB_BOARDS_COUNT", 20),
                tasks=env_int("TB_BOARDS_TASKS", 1000))
        unknown = set(s.parts) - {"load", "nocache", "auth", "sync"}
        if unknown:
            sys.exit(f"bench-boards: TB_BOARDS_PARTS: unknown {', '.join(sorted(unknown))} "
                     "(load, nocache, auth, sync)")
        # board BOARD is measured, board BOARD + 1 is the one USER may not use
        if s.boards < BOARD + 1:
            sys.exit(f"bench-boards: TB_BOARDS_COUNT must be at least {BOARD + 1}")
        return s

    @property
    def resources(self) -> int:
        """Resources per board, as make_board.sh makes them: N/10, at least 2, at most 1,000."""
        return min(1000, max(2, self.tasks // 10))


def progress(msg: str):
    print(f"bench-boards: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# the configuration

def split_boards_conf() -> Tuple[str, str]:
    """conf/taskboard-boards.conf as two parts: the boards (scope, stores, handlers on
    ^/boards/), and its last block, "Who may use which board" (Basic + TaskBoardAuthzQuery),
    which starts at the last line of dashes."""
    with open(BOARDS_CONF) as f:
        text = f.read()
    cut = text.rfind("\n# ----")
    if cut < 0 or "Who may use which board" not in text[cut:] \
            or "TaskBoardAuthzQuery" not in text[cut:]:
        raise BenchError(f"{BOARDS_CONF}: no last block \"Who may use which board\" after a line "
                         "of dashes: the bench must be brought up to date with it")
    return text[:cut + 1], text[cut + 1:]


def stores_of(boards_part: str) -> str:
    """The <TaskBoardStore> sections of the boards part, on the sample tables instead of the
    board_* ones: /flat serves the sample board with exactly the scoped board's fields."""
    first, last = boards_part.find("    <TaskBoardStore"), boards_part.rfind("</TaskBoardStore>")
    stores = boards_part[first:last + len("</TaskBoardStore>")]
    return re.sub(r"(TaskBoardTable\s+)board_(\w+)", r"\1\2", stores)


def bench_conf(root: str) -> str:
    """What the bench adds to the demo configuration (whose /api is conf/taskboard.conf's one
    board): the boards of conf/taskboard-boards.conf three times, on /boards/ without its last
    block, on /authboards/ with it, on /basicboards/ with it less TaskBoardAuthzQuery;
    locations with TaskBoardLoadCache Off and with TaskBoardConflictPolicy off; and /flat."""
    boards, who = split_boards_conf()
    htpasswd = os.path.join(root, "conf", "boards.htpasswd")
    who = who.replace("/etc/apache2/taskboard.htpasswd", htpasswd)
    if htpasswd not in who:
        raise BenchError(f"{BOARDS_CONF}: the last block has no AuthUserFile "
                         "/etc/apache2/taskboard.htpasswd to replace")
    basic = "\n".join(line for line in who.splitlines()
                      if not line.strip().startswith("TaskBoardAuthzQuery"))

    def on(prefix: str, text: str) -> str:
        return text.replace('"^/boards/', f'"^/{prefix}/')

    return f"""# generated by tests/bench/boards.py
# Basic authentication from a password file (the demo loads only authz_core)
LoadModule authn_core_module {MODULES}/mod_authn_core.so
LoadModule authn_file_module {MODULES}/mod_authn_file.so
LoadModule auth_basic_module {MODULES}/mod_auth_basic.so
LoadModule authz_user_module {MODULES}/mod_authz_user.so

# ---- conf/taskboard-boards.conf up to its last block: /boards/N/load, sync, events
{boards}
# the bench's own locations on the scoped board: loads that always read the stores, and card
# moves of many clients at once (the last writer wins, as in bench.py's /api/bench-sync)
<LocationMatch "^/boards/[0-9]+/load-nocache$">
    SetHandler taskboard-load
    TaskBoardLoadCache Off
</LocationMatch>
<LocationMatch "^/boards/[0-9]+/bench-sync$">
    SetHandler taskboard-sync
    TaskBoardConflictPolicy off
</LocationMatch>

# ---- the same boards on /authboards/N/, with the last block: Basic + TaskBoardAuthzQuery
{on("authboards", boards)}
{on("authboards", who)}
# ---- the same boards on /basicboards/N/, with the last block less TaskBoardAuthzQuery:
# what the authentication alone costs
{on("basicboards", boards)}
{on("basicboards", basic)}

# ---- the sample board with the scoped board's stores and fields, without a scope: what the
# scope costs, apart from the demo's wider rows.  Revision, journal and retry tables as /api's.
<Location /flat>
    TaskBoardRevision options value name=revision
    TaskBoardRetryTables taskboard_phantoms taskboard_requests
    TaskBoardJournal taskboard_journal
    TaskBoardConflictPolicy record
{stores_of(boards)}
</Location>
<Location /flat/load>
    SetHandler taskboard-load
</Location>
<Location /flat/load-nocache>
    SetHandler taskboard-load
    TaskBoardLoadCache Off
</Location>
<Location /flat/bench-sync>
    SetHandler taskboard-sync
    TaskBoardConflictPolicy off
</Location>

# ---- the demo's /api (conf/taskboard.conf): loads without the cache, card moves without the
# conflict check
<Location /api/load-nocache>
    SetHandler taskboard-load
    TaskBoardLoadCache Off
</Location>
<Location /api/bench-sync>
    SetHandler taskboard-sync
    TaskBoardConflictPolicy off
</Location>
"""


def write_htpasswd(root: str):
    """The password file of the last block, made as its comment says (htpasswd -B: bcrypt at
    htpasswd's default cost), readable by the httpd children (www-data)."""
    path = os.path.join(root, "conf", "boards.htpasswd")
    subprocess.run(["htpasswd", "-B", "-b", "-c", path, USER, PASSWORD], check=True,
                   capture_output=True)
    os.chmod(path, 0o644)


# ---------------------------------------------------------------------------------------------
# the database

def boards_sql(s: Settings) -> str:
    """s.boards boards of s.tasks tasks, s.resources resources and two assignments per task,
    with make_board.sh's values for the columns the boards have.  Board BOARD comes first
    (ids 1..N, as the sample board's: sync.lua moves the cards 1..TASKS), the others after it
    in order.  board_access: 50 users with read or write on every board, and USER with write
    on board BOARD alone."""
    order = [BOARD] + [b for b in range(1, s.boards + 1) if b != BOARD]
    board_of = f"ELT(b.seq + 1, {', '.join(map(str, order))})"
    n, r = s.tasks, s.resources
    slots = f"seq_0_to_{s.boards - 1} b JOIN seq_1_to_{n} t"
    return f"""
SET FOREIGN_KEY_CHECKS = 0;
TRUNCATE TABLE board_assignments;
TRUNCATE TABLE board_tasks;
TRUNCATE TABLE board_resources;
TRUNCATE TABLE board_access;
TRUNCATE TABLE board_journal;
TRUNCATE TABLE board_phantoms;
TRUNCATE TABLE board_requests;
TRUNCATE TABLE boards;
SET FOREIGN_KEY_CHECKS = 1;

INSERT INTO boards (id, name, revision) SELECT seq, CONCAT('Board ', seq), 1
FROM seq_1_to_{s.boards};

INSERT INTO board_resources (id, board_id, name)
SELECT b.seq * {r} + t.seq, {board_of}, CONCAT('Resource ', t.seq)
FROM seq_0_to_{s.boards - 1} b JOIN seq_1_to_{r} t ORDER BY b.seq, t.seq;

INSERT INTO board_tasks (id, board_id, name, status, weight)
SELECT b.seq * {n} + t.seq, {board_of}, CONCAT('Task ', t.seq),
       ELT(1 + t.seq % 4, 'todo', 'doing', 'review', 'done'), t.seq * 10
FROM {slots} ORDER BY b.seq, t.seq;

INSERT INTO board_assignments (id, board_id, event, resource)
SELECT b.seq * {2 * n} + t.seq, {board_of}, b.seq * {n} + t.seq, b.seq * {r} + 1 + t.seq % {r}
FROM {slots}
UNION ALL
SELECT b.seq * {2 * n} + {n} + t.seq, {board_of}, b.seq * {n} + t.seq,
       b.seq * {r} + 1 + (t.seq + 1) % {r}
FROM {slots};

INSERT INTO board_access (board_id, user, access)
SELECT b.seq, CONCAT('user', u.seq), IF(u.seq % 3 = 0, 'read', 'write')
FROM seq_1_to_{s.boards} b JOIN seq_1_to_50 u;
INSERT INTO board_access (board_id, user, access) VALUES ({BOARD}, '{USER}', 'write');
"""


def prepare_db(settings: Settings):
    def prepare(env):
        tbctl(env, "db-load", os.path.join(REPO, "sql", "schema.sql"),
              os.path.join(REPO, "sql", "boards.sql"))
        sample = subprocess.run([os.path.join(HERE, "make_board.sh"), str(settings.tasks)],
                                check=True, capture_output=True).stdout
        tbctl(env, "db-sql", stdin=sample)
        tbctl(env, "db-sql", stdin=boards_sql(settings).encode())
    return prepare


# ---------------------------------------------------------------------------------------------
# scenarios

@dataclasses.dataclass
class Side:
    """One of the things a scenario compares: a URL path and how to request it."""
    key: str                    # in boards.json and the statements log
    label: str                  # in the table
    path: str
    scoped: bool                # the revision is boards.revision of BOARD, else options'
    headers: Tuple[str, ...] = ()
    samples: List[Sample] = dataclasses.field(default_factory=list)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(s, attr) if not attr.startswith("/")
                                 else s.per_request(attr[1:]) for s in self.samples)


def scenario_sides(kind: str) -> List[Side]:
    """The sides of a scenario, the one measured first: the ratios are it / each other."""
    scoped = f"/boards/{BOARD}"
    if kind in ("load", "nocache"):
        leaf = "load" if kind == "load" else "load-nocache"
        return [Side("scoped", f"scoped board {BOARD} of {{boards}}", f"{scoped}/{leaf}", True),
                Side("api", "one board: the demo's /api (more fields)", f"/api/{leaf}", False),
                Side("flat", "one board, same fields: /flat", f"/flat/{leaf}", False)]
    if kind == "auth":
        return [Side("auth", "Basic (bcrypt) + TaskBoardAuthzQuery",
                     f"/authboards/{BOARD}/load", True, (AUTH_HEADER,)),
                Side("none", "no authentication", f"{scoped}/load", True),
                Side("basic", "Basic (bcrypt) alone", f"/basicboards/{BOARD}/load", True,
                     (AUTH_HEADER,))]
    return [Side("scoped", f"scoped board {BOARD} of {{boards}}", f"{scoped}/bench-sync", True),
            Side("api", "one board: the demo's /api", "/api/bench-sync", False),
            Side("flat", "one board, same fields: /flat", "/flat/bench-sync", False)]


SCENARIOS = {"load": "load, cache on (revision unchanged)",
             "nocache": "load, TaskBoardLoadCache Off",
             "auth": "scoped load (cache on), authorization",
             "sync": "sync: card move, TaskBoardConflictPolicy off"}


@dataclasses.dataclass
class Row:
    kind: str
    conc: int
    sides: List[Side]


class Bench:
    """The run: the servers, the database connection, and the scenarios."""

    def __init__(self, settings: Settings, env: dict, root: str, base: str):
        self.s = settings
        self.env, self.root, self.base = env, root, base
        self.db = Db(env)
        self.rows: List[Row] = []
        self.answers: Dict[str, int] = {}           # load path -> answer bytes
        self.board_info: dict = {}
        self.recorded: Dict[Tuple[str, str], List[Tuple[str, str]]] = {}
        self.statements_log: Optional[str] = None
        self._nonce = 0
        self.access_log = os.path.join(root, "logs", "access_log")
        # httpd appends (O_APPEND), so emptying is safe
        with open(self.access_log, "w"):
            pass

    def nonce(self) -> int:
        """A number of its own for every client run (requestIds, the weights sync.lua writes)."""
        self._nonce += 1
        return self._nonce

    def revision(self, side: Side) -> int:
        if side.scoped:
            return int(self.db.value("SELECT `revision` FROM `boards` WHERE `id` = %s",
                                     (BOARD,)))
        return self.db.revision()

    # -- one request

    def load_url(self, path: str, request_id: int = REQUEST_ID) -> str:
        package = {"type": "load", "requestId": request_id, "stores": STORES}
        return (f"{self.base}{path}?data="
                + urllib.parse.quote(json.dumps(package, separators=(",", ":")), safe=""))

    def request(self, url: str, headers=(), body: Optional[bytes] = None) -> Tuple[int, bytes]:
        """(status, body) of one request; error statuses are returned, not raised."""
        h = dict(line.split(": ", 1) for line in headers)
        if body is not None:
            h["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=body, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def load(self, side: Side, request_id: int = REQUEST_ID) -> bytes:
        status, body = self.request(self.load_url(side.path, request_id), side.headers)
        if status != 200:
            raise BenchError(f"GET {side.path}: {status} {body[:300]!r}")
        return body

    def card_move(self, side: Side) -> dict:
        """One card move through the side, up to date (the board's revision)."""
        n = self.nonce()
        body = json.dumps({"type": "sync", "requestId": REQUEST_ID + n,
                           "revision": self.revision(side),
                           "tasks": {"updated": [{"id": 1 + n % self.s.tasks, "status": "doing",
                                                  "weight": -n}]}}).encode()
        status, answer = self.request(self.base + side.path, side.headers, body)
        doc = json.loads(answer) if answer else {}
        if status != 200 or doc.get("success") is not True:
            raise BenchError(f"POST {side.path}: {status} {answer[:300]!r}")
        return doc

    # -- checks before the runs

    def check_answers(self):
        """The scoped answer has exactly board BOARD's rows (ids against the database), and the
        same rows and fields as /flat's answer on the sample tables, so that the two differ by
        the scope alone; every load path's answer size is kept for the size checks of the runs.
        Authorization is really on: 401 without a user, 403 on a board USER may not use."""
        scoped = json.loads(self.load(scenario_sides("load")[0]))
        flat = json.loads(self.load(scenario_sides("load")[2]))
        info = {}
        for store in STORES:
            table = f"board_{store}"
            ids = sorted(r[0] for r in self.db.rows(
                f"SELECT `id` FROM `{table}` WHERE `board_id` = %s", (BOARD,)))
            got = sorted(row["id"] for row in scoped[store]["rows"])
            if got != ids or scoped[store]["total"] != len(ids):
                raise BenchError(f"/boards/{BOARD}/load: {store} has {len(got)} rows (total "
                                 f"{scoped[store]['total']}), board {BOARD} has {len(ids)} in "
                                 f"{table}" + ("" if len(got) != len(ids) else
                                               ", but not the same ids"))
            if scoped[store]["rows"] != flat[store]["rows"]:
                raise BenchError(f"/boards/{BOARD}/load and /flat/load differ in {store}: the "
                                 "comparison would not be of the same rows")
            info[store] = len(ids)
            info[f"all_{store}"] = self.db.value(f"SELECT COUNT(*) FROM `{table}`")
        self.board_info = info
        for kind in ("load", "nocache", "auth"):
            for side in scenario_sides(kind):
                body = self.load(side)
                # the sizes of the runs' answers: requestIds of the same length
                if len(self.load(side, REQUEST_ID + 99999999)) != len(body):
                    raise BenchError(f"{side.path}: answers to requestIds of equal length "
                                     "differ in size")
                self.answers[side.path] = len(body)
        auth = scenario_sides("auth")[0]
        status, _ = self.request(self.load_url(auth.path))
        if status != 401:
            raise BenchError(f"GET {auth.path} without a user: {status}, not 401")
        other = auth.path.replace(f"/{BOARD}/", f"/{BOARD + 1}/")
        status, _ = self.request(self.load_url(other), auth.headers)
        if status != 403:
            raise BenchError(f"GET {other} as {USER} (no board_access row): {status}, not 403")

    # -- measuring

    def cpu(self) -> dict:
        """CPU seconds (utime + stime) so far of httpd, parent and children summed, and of
        mariadbd: where a request's time goes."""
        with open(os.path.join(self.root, "logs", "httpd.pid")) as f:
            httpd = [int(f.read().strip())] + httpd_children(self.root)
        with open(os.path.join(self.env["TB_STATE_DIR"], "mariadb", "mysqld.pid")) as f:
            mariadbd = int(f.read().strip())
        return {"httpd": {pid: proc_cpu(pid) for pid in httpd}, "db": proc_cpu(mariadbd)}

    def counted(self, run) -> Sample:
        """run() between two readings of the server's statement counters and CPU times; the
        differences go into the sample (less the reading itself)."""
        before, cpu0 = self.db.counters(), self.cpu()
        sample = run()
        after, cpu1 = self.db.counters(), self.cpu()
        sample.counters = {k: after[k] - before[k] for k in after}
        sample.counters["Questions"] -= 1
        # a child that started meanwhile counts from 0; one that ended loses its share (the
        # demo's MPM settings keep one child at these concurrencies)
        sample.counters["httpd_cpu"] = sum(t - cpu0["httpd"].get(pid, 0.0)
                                           for pid, t in cpu1["httpd"].items())
        sample.counters["db_cpu"] = cpu1["db"] - cpu0["db"]
        return sample

    def load_run(self, side: Side, conc: int) -> Sample:
        """One wrk run of load.lua; the counters are divided by the requests httpd handled (its
        access log), and the bytes must be those of that many answers of the checked size."""
        offset = os.path.getsize(self.access_log)

        def run():
            tb = wrk(self.base + "/", LOAD_LUA, [side.path, self.nonce()], conc,
                     self.s.seconds, side.headers)
            quiesce(self.access_log)
            sample = Sample.from_tb(tb)
            with open(self.access_log, "rb") as f:
                f.seek(offset)
                sample.requests = f.read().count(f'"GET {side.path}?'.encode())
            return sample
        sample = self.counted(run)
        # wrk counts the bytes of answers under way when it stopped, but not their requests;
        # headers (and chunk framing) add up to a few hundred bytes per answer
        body, answers = self.answers[side.path], int(sample.extra["requests"])
        if not answers * body <= sample.bytes <= (answers + conc) * (body * 1.002 + 600):
            raise BenchError(f"GET {side.path} c={conc}: {sample.bytes} bytes in {answers} "
                             f"answers of {body} bytes")
        return sample

    def settle(self, side: Side):
        """Until the revision has not moved for 200 ms: httpd finishes the syncs that were under
        way when wrk stopped."""
        last, still = self.revision(side), 0
        while still < 4:
            time.sleep(0.05)
            now = self.revision(side)
            still = still + 1 if now == last else 0
            last = now

    def sync_run(self, side: Side, conc: int) -> Sample:
        """One wrk run of sync.lua's card moves; every answered sync must have raised the
        revision by one, and the counters are divided by the syncs applied."""
        rev0 = self.revision(side)
        args = [side.path, "move", self.nonce(), rev0, self.s.tasks, self.s.resources,
                min(2, conc)]

        def run():
            tb = wrk(self.base + "/", SYNC_LUA, args, conc, self.s.seconds, side.headers)
            self.settle(side)
            return Sample.from_tb(tb)
        sample = self.counted(run)
        applied = self.revision(side) - rev0
        answered = int(sample.extra["responses"])
        # syncs under way when wrk stopped, or whose connection httpd closed, went unanswered
        if not answered <= applied <= answered + conc + sample.extra["socket_errors"]:
            raise BenchError(f"POST {side.path} c={conc}: {answered} answers but the revision "
                             f"rose by {applied}")
        sample.requests = applied
        return sample

    def measure(self, kind: str, conc: int) -> Row:
        """Every side of the scenario in turn, TB_BENCH_REPS times."""
        row = Row(kind, conc, scenario_sides(kind))
        run = self.sync_run if kind == "sync" else self.load_run
        for _ in range(self.s.reps):
            for side in row.sides:
                side.samples.append(run(side, conc))
        first = row.sides[0].median("rps")
        progress(f"{SCENARIOS[kind]} c={conc}: " + ", ".join(
            f"{s.key} {s.median('rps'):,.0f}/s" for s in row.sides)
            + " (ratios " + ", ".join(f"{first / s.median('rps'):.2f}"
                                      for s in row.sides[1:]) + ")")
        self.rows.append(row)
        return row

    # -- statements

    def record_statements(self):
        """One request of every side of every scenario with MariaDB's general log on: what each
        issued goes to $TB_STATE_DIR/boards-statements.log and into the statements table.  A
        cached load is recorded after a load that fills the cache; a card move is up to date."""
        log = os.path.join(self.env["TB_STATE_DIR"], "mariadb", "general.log")
        out = os.path.join(self.env["TB_STATE_DIR"], "boards-statements.log")
        with open(log, "w"):
            pass
        self.db.rows("SET GLOBAL general_log_file = %s", (log,))
        self.db.rows("SET GLOBAL general_log = 1")
        try:
            for kind in self.s.parts:
                for side in scenario_sides(kind):
                    # what a request before the recorded one issues is left out: the load
                    # that fills the cache, the sync that prunes the retry tables and the
                    # journal (once a while per board and process) and prepares
                    self.db.rows("SELECT %s", ("scenario warm-up",))
                    if kind in ("load", "auth"):
                        self.load(side)
                    elif kind == "sync":
                        self.card_move(side)
                    self.db.rows("SELECT %s", (f"scenario {kind} {side.key}",))
                    if kind == "sync":
                        self.card_move(side)
                    else:
                        self.load(side)
            self.db.rows("SELECT %s", ("scenario end",))
        finally:
            self.db.rows("SET GLOBAL general_log = 0")
        own = self.db.value("SELECT CONNECTION_ID()")
        key = None
        with open(log, errors="replace") as f, open(out, "w") as o:
            for line in f:
                m = GENERAL_LOG_LINE.match(line)
                if not m:
                    continue
                if int(m.group(1)) == own and "scenario " in m.group(3):
                    # "scenario KIND SIDE" starts a recording, "scenario warm-up" and
                    # "scenario end" stop it
                    key = tuple(m.group(3).split("scenario ")[1].strip("'").split())
                    if len(key) == 2:
                        self.recorded[key] = []
                        o.write(f"\n-- {SCENARIOS[key[0]]}: {key[1]}\n")
                elif int(m.group(1)) != own and key in self.recorded:
                    o.write(f"{m.group(2)}\t{m.group(3)}\n")
                    self.recorded[key].append((m.group(2), m.group(3)))
        self.statements_log = out

    # -- the whole run

    def run(self):
        self.check_answers()
        progress(f"board {BOARD}: {self.board_info}; answers {self.answers}")
        self.record_statements()
        for kind in ("load", "nocache", "auth", "sync"):
            if kind in self.s.parts:
                for conc in self.s.conc:
                    self.measure(kind, conc)


# ---------------------------------------------------------------------------------------------
# the report

def short(statement: str) -> str:
    """A statement as its verb and first table: SELECT boards, UPDATE board_tasks, COMMIT."""
    verb = statement.split(None, 1)[0].upper() if statement.strip() else "?"
    if verb == "START":
        return "START TRANSACTION"
    m = re.search(r"\b(?:FROM|INTO|UPDATE)\s+`?(\w+)`?", statement, re.I)
    return f"{verb} {m.group(1)}" if m and verb in ("SELECT", "INSERT", "UPDATE", "DELETE") \
        else verb


def statement_summary(recorded: List[Tuple[str, str]]) -> str:
    """How many statements one request issued, prepares apart, and which (in order, repeats
    as xN)."""
    issued = [short(text) for command, text in recorded if command != "Prepare"]
    prepares = sum(1 for command, _ in recorded if command == "Prepare")
    runs: List[List] = []
    for name in issued:
        if runs and runs[-1][0] == name:
            runs[-1][1] += 1
        else:
            runs.append([name, 1])
    text = ", ".join(f"{name}" + (f" x{n}" if n > 1 else "") for name, n in runs)
    return f"{len(issued)}" + (f" (+{prepares} prepares)" if prepares else "") + f": {text}"


def fmt_statements(side: Side) -> str:
    questions = side.median("/Questions")
    pings = side.median("/Com_admin_commands")
    prepares = side.median("/Com_stmt_prepare")
    return (f"{questions:.1f}" + (f" +{pings:.1f} ping" if pings >= 0.05 else "")
            + (f", {prepares:.2f} prepares" if prepares >= 0.005 else ""))


def fmt_cpu(side: Side) -> str:
    return (f"{1000 * side.median('/httpd_cpu'):.2f} / {1000 * side.median('/db_cpu'):.2f}")


def table(bench: Bench) -> List[str]:
    boards = f"{bench.s.boards} in board_*"
    out = ["| scenario | c | side | req/s | p50 / p99 ms | ratio (first side / this) "
           "| CPU ms/req httpd / MariaDB | statements/req | answer bytes |",
           "|---|--:|---|--:|--:|--:|--:|--:|--:|"]
    for row in bench.rows:
        first = row.sides[0].median("rps")
        for i, side in enumerate(row.sides):
            rps = side.median("rps")
            errors = sum(int(s.extra.get("socket_errors", 0)) for s in side.samples)
            answer = bench.answers.get(side.path)
            out.append(
                f"| {SCENARIOS[row.kind] if i == 0 else ''} | {row.conc if i == 0 else ''} "
                f"| {side.label.format(boards=boards)} | {rps:,.0f}"
                + (f" ({errors} socket errors)" if errors else "")
                + f" | {side.median('p50'):.2f} / {side.median('p99'):.2f} "
                f"| {'–' if i == 0 else f'{first / rps:.2f}'} | {fmt_cpu(side)} "
                f"| {fmt_statements(side)} "
                f"| {f'{answer:,}' if answer else '–'} |")
    return out


def statements_table(bench: Bench) -> List[str]:
    out = ["| scenario | side | statements of one request (MariaDB's general log) |",
           "|---|---|---|"]
    for (kind, key), recorded in bench.recorded.items():
        out.append(f"| {SCENARIOS[kind]} | {key} | {statement_summary(recorded)} |")
    return out


def section(bench: Optional[Bench], settings: Settings, started: float, load_start: str,
            version: str, failure: Optional[str], log: List[str]) -> str:
    s = settings
    lines = [
        "## Many boards",
        "",
        f"- module: {version}; {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; wall time "
        f"{time.monotonic() - started:.0f} s (`make -f Makefile.apxs bench-boards`, "
        "tests/bench/boards.py)",
        f"- machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}; load average {load_start} "
        f"at the start, {loadavg()} at the end. wrk, httpd and MariaDB share these CPUs (and "
        "whatever else runs on the machine)",
        f"- runs: median of {s.reps} runs of {s.seconds} s per side, the sides of a scenario "
        "in turn; wrk -t1 at c=1, -t2 above",
        "- servers: one MariaDB and one httpd: the demo configuration (event MPM, 25 threads "
        "per child, DBDMax 10; /api is conf/taskboard.conf's one board) plus boards.py's "
        "additions: conf/taskboard-boards.conf on /boards/ without its last block, on "
        "/authboards/ with it, on /basicboards/ with it less TaskBoardAuthzQuery; /flat "
        "(the sample tables with the scoped board's stores and fields, no scope); locations "
        "with TaskBoardLoadCache Off and TaskBoardConflictPolicy off",
    ]
    if bench and bench.board_info:
        b = bench.board_info
        lines.append(
            f"- boards: {s.boards} in the board_* tables of sql/boards.sql, "
            f"{b['all_tasks']:,} tasks, {b['all_resources']:,} resources, "
            f"{b['all_assignments']:,} assignments in all; board {BOARD}: {b['tasks']:,} "
            f"tasks, {b['resources']:,} resources, {b['assignments']:,} assignments, its "
            f"answer checked against the database (exactly its ids) and equal to /flat's; "
            f"the sample tables: the same {s.tasks:,} tasks (make_board.sh {s.tasks})")
    if bench and bench.rows:
        lines += ["", *table(bench), "",
                  "- ratio: req/s of the scenario's first side / req/s of this side (scoped / "
                  "one board; authorized / not). CPU: utime + stime of the httpd processes "
                  "and of mariadbd (/proc/PID/stat) per request; wrk's own CPU is not in it. "
                  "statements/req: MariaDB's Questions per "
                  "request httpd handled (per applied sync for syncs), median over the runs; "
                  "ping: COM_PING per request (mod_dbd's check of the connection it hands "
                  "out); prepares: Com_stmt_prepare per request.",
                  "- at c=8 nearly every card move is behind the board's revision (each wrk "
                  "thread knows only its own answers): it also reads the journal and sends "
                  "the others' records along, on every side alike."]
    if bench and bench.recorded:
        lines += ["", *statements_table(bench), "",
                  f"- in order, repeats as xN; the statements themselves: "
                  f"{bench.statements_log}"]
    lines += section_end(log, failure, "The boards bench")
    return "\n".join(lines) + "\n"


def save_raw(bench: Bench):
    rows = []
    for row in bench.rows:
        sides = []
        for side in row.sides:
            samples = [dataclasses.asdict(s) for s in side.samples]
            for s in samples:
                s["extra"].pop("output", None)
            sides.append({"key": side.key, "path": side.path, "samples": samples})
        rows.append({"kind": row.kind, "conc": row.conc, "sides": sides})
    with open(os.path.join(bench.env["TB_STATE_DIR"], "boards.json"), "w") as f:
        json.dump({"settings": dataclasses.asdict(bench.s), "board": bench.board_info,
                   "answers": bench.answers, "rows": rows,
                   "statements": {f"{k} {s}": v for (k, s), v in bench.recorded.items()}},
                  f, indent=1)


def main() -> int:
    settings = Settings.from_env()
    started, load_start = time.monotonic(), loadavg()
    failure, bench, log, version = None, None, [], "unknown"

    def conf(root: str) -> str:
        write_htpasswd(root)
        return bench_conf(root)

    with servers(prepare_db(settings), conf) as (env, root, base):
        version = module_version(env)
        log_start = error_log_end(root)
        progress(where(env, base))
        try:
            bench = Bench(settings, env, root, base)
            bench.run()
        except BenchError as e:
            failure = str(e)
        log = error_log_since(root, log_start)
        text = section(bench, settings, started, load_start, version, failure, log)
        path = save_section(env["TB_STATE_DIR"], "Many boards", text)
        if bench:
            save_raw(bench)
    return finish("bench-boards", text, path, failure)


if __name__ == "__main__":
    sys.exit(main())
