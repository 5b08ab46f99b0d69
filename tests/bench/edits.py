#!/usr/bin/python3
"""Performance under edits (issue 18): make -f Makefile.apxs bench-edits (tests/bench/README.md).

Card moves and loads while the board changes, each beside the seed guide's PHP backend
(tests/bench/php: load.php and sync.php with PDO, served by Debian's libapache2-mod-php from a
private prefork httpd of its own) measured in the same run, on the same MariaDB and the same
board.  One MariaDB and one module httpd (the demo configuration, bench.py's additions and the
boards of conf/taskboard-boards.conf) and the PHP httpd, on free loopback ports, state in
$TB_STATE_DIR (default state/bench); every server is stopped by pid however the run ends.

  move     card moves on board M (1,000 tasks) at each TB_EDITS_MOVE_C: the module
           (/api/bench-sync), the PHP backend (sync.php), and sync_direct (the module's
           statements issued directly over libmariadb)
  boards   card moves spread over 8 boards at TB_EDITS_BOARDS_C: the module's scoped boards
           (TaskBoardScope, /boards/N/bench-sync) against the PHP backend on 8 databases of
           its own tables (the guide's backend knows one board: 8 deployments of it)
  load     load M at TB_EDITS_LOAD_C: from the cache (revision unchanged) and gzip, against the
           static file; then while a writer moves cards through /api/sync at TB_EDITS_RATE per
           second and at full speed, against the static file and the cached figure, with the
           share of loads the module rebuilt or read (its status counters), PHP beside

The sides of a row run in turn (module, PHP, baseline, module, ...), TB_BENCH_REPS runs of
TB_BENCH_SECONDS each; the table shows medians and ratios, and the issue's targets with
pass/MISS.  The bench fails (exit 1) only on errors (a non-2xx answer, a wrong answer, a sync
that was not applied), never on a missed target.  The section "Performance under edits" goes
into $TB_STATE_DIR/results.md (in place of one an earlier run left there), the raw figures into
$TB_STATE_DIR/edits.json.
"""

import dataclasses
import glob
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from typing import Callable, List, Optional

import bench as B
from benchlib import (REPO, BenchError, env_int, env_list, error_log_end, error_log_since,
                      finish, free_port, save_section, section_end, servers, tbctl,
                      where, wrk)
from boards import split_boards_conf, boards_sql, Settings as BoardsSettings

HERE = os.path.dirname(os.path.abspath(__file__))
PHP_SRC = os.path.join(HERE, "php")
MODULES = "/usr/lib/apache2/modules"
STORES = B.STORES
BOARDS = 8
# sessions per wrk thread on the PHP side (TB_BENCH_SESSIONS of load.lua and sync.lua): more
# than its connections, so that two requests under way never share a session (and its lock)
PHP_SESSIONS = 64
STATUSES = ["todo", "doing", "review", "done"]


@dataclasses.dataclass
class Settings:
    reps: int
    seconds: int
    parts: List[str]
    move_c: List[int]
    boards_c: int
    load_c: int
    rate: float
    tasks: int

    @classmethod
    def from_env(cls):
        s = cls(reps=env_int("TB_BENCH_REPS", 3), seconds=env_int("TB_BENCH_SECONDS", 3),
                parts=env_list("TB_EDITS_PARTS", "move,boards,load"),
                move_c=[int(c) for c in env_list("TB_EDITS_MOVE_C", "1,8,32")],
                boards_c=env_int("TB_EDITS_BOARDS_C", 32),
                load_c=env_int("TB_EDITS_LOAD_C", 8),
                rate=float(os.environ.get("TB_EDITS_RATE", "10")),
                tasks=env_int("TB_EDITS_TASKS", 1000))
        unknown = set(s.parts) - {"move", "boards", "load"}
        if unknown:
            sys.exit(f"bench-edits: TB_EDITS_PARTS: unknown {', '.join(sorted(unknown))} "
                     "(move, boards, load)")
        return s


def progress(msg: str):
    print(f"bench-edits: {msg}", file=sys.stderr, flush=True)


def php_databases() -> List[str]:
    return [f"taskboard_php{b}" for b in range(1, BOARDS + 1)]


# ---------------------------------------------------------------------------------------------
# the module's configuration and the database

def edits_conf(root: str) -> str:
    """bench.py's additions (/api/bench-sync, the .gz baseline) and the boards of
    conf/taskboard-boards.conf up to its last block (authorization is not measured here), with
    a sync location without the revision check on each board."""
    boards, _ = split_boards_conf()
    return f"""{B.bench_conf(root)}
# ---- tests/bench/edits.py: conf/taskboard-boards.conf up to its last block
{boards}
<LocationMatch "^/boards/[0-9]+/bench-sync$">
    SetHandler taskboard-sync
    TaskBoardConflictPolicy off
</LocationMatch>
"""


def prepare_db(settings: Settings):
    """The sample schema (board M is put in by use_board), the boards of sql/boards.sql (8 of
    settings.tasks tasks, as boards.py makes them), and the PHP backend's 8 databases: the
    sample schema and make_board.sh's board of settings.tasks tasks in each."""
    def prepare(env):
        tbctl(env, "db-load", os.path.join(REPO, "sql", "schema.sql"),
              os.path.join(REPO, "sql", "boards.sql"))
        scoped = boards_sql(BoardsSettings(reps=0, seconds=0, conc=[], parts=[],
                                           boards=BOARDS, tasks=settings.tasks))
        tbctl(env, "db-sql", stdin=scoped.encode())
        board = subprocess.run([os.path.join(HERE, "make_board.sh"), str(settings.tasks)],
                               check=True, capture_output=True).stdout
        user = env.get("TB_DB_USER", "taskboard")
        for name in php_databases():
            grant = (f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 "
                     "COLLATE utf8mb4_unicode_ci;\n"
                     + "".join(f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'{host}';\n"
                               for host in ("127.0.0.1", "localhost")))
            tbctl(env, "db-sql", stdin=grant.encode())
            own = dict(env, TB_DB_NAME=name)
            tbctl(own, "db-load", os.path.join(REPO, "sql", "schema.sql"))
            tbctl(own, "db-sql", stdin=board)
    return prepare


def scoped_offsets() -> List[tuple]:
    """(board, first task id - 1) of the 8 boards as boards_sql numbers them: board 7 first
    (ids 1..N), then the others in order."""
    order = [7] + [b for b in range(1, BOARDS + 1) if b != 7]
    return order


# ---------------------------------------------------------------------------------------------
# the PHP backend's httpd

def php_module() -> str:
    found = sorted(glob.glob(os.path.join(MODULES, "libphp*.so")))
    if not found:
        sys.exit("bench-edits: no libphp*.so in /usr/lib/apache2/modules (tests/bench/php/deps.sh "
                 "installs libapache2-mod-php; make -f Makefile.apxs bench-edits runs it)")
    return found[-1]


def php_version() -> str:
    p = subprocess.run(["php", "-r", "echo PHP_VERSION;"], capture_output=True, text=True)
    return p.stdout.strip() or "unknown"


PREFORK = dict(StartServers=40, MinSpareServers=10, MaxSpareServers=48, ServerLimit=64,
               MaxRequestWorkers=64, MaxConnectionsPerChild=0)


def php_conf(root: str, port: int, env: dict) -> str:
    """A complete httpd configuration of its own (it reads nothing of /etc/apache2): prefork
    (mod_php is not thread-safe), mod_php, the guide's files in htdocs/, on / for board M's
    database (the module's, so both serve the same rows) and on /boards/N/ for database
    taskboard_phpN.  Prefork starts enough children for c=32 and keeps them (a child per
    keep-alive connection)."""
    mpm = "\n".join(f"{k} {v}" for k, v in PREFORK.items())
    boards = "\n".join(
        f'Alias /boards/{b}/ "{root}/htdocs/"\n<Location /boards/{b}/>\n'
        f'    SetEnv TB_PHP_DBNAME {name}\n</Location>'
        for b, name in enumerate(php_databases(), 1))
    return f"""# generated by tests/bench/edits.py: the seed guide's PHP backend
ServerRoot "{root}"
Listen 127.0.0.1:{port}
ServerName 127.0.0.1
DefaultRuntimeDir logs
PidFile logs/httpd.pid
ErrorLog logs/error_log
LogLevel warn
LogFormat "%h %l %u %t \\"%r\\" %>s %b %D" timed
CustomLog logs/access_log timed

LoadModule mpm_prefork_module {MODULES}/mod_mpm_prefork.so
LoadModule authz_core_module  {MODULES}/mod_authz_core.so
LoadModule mime_module        {MODULES}/mod_mime.so
LoadModule env_module         {MODULES}/mod_env.so
LoadModule alias_module       {MODULES}/mod_alias.so
LoadModule php_module         {php_module()}

User www-data
Group www-data
{mpm}
TypesConfig /etc/mime.types

<Directory />
    AllowOverride None
    Require all denied
</Directory>
DocumentRoot "{root}/htdocs"
<Directory "{root}/htdocs">
    Require all granted
</Directory>
<FilesMatch "\\.php$">
    SetHandler application/x-httpd-php
</FilesMatch>

# Debian's php.ini for the apache2 SAPI applies (opcache on); sessions go to a directory of
# this server's own
php_admin_value session.save_path "{root}/sessions"
php_admin_flag display_errors off

SetEnv TB_PHP_SOCKET {os.path.join(env["TB_STATE_DIR"], "mariadb", "mysqld.sock")}
SetEnv TB_PHP_USER {env.get("TB_DB_USER", "taskboard")}
SetEnv TB_PHP_PASS {env.get("TB_DB_PASS", "taskboard")}
SetEnv TB_PHP_DBNAME {B.db_name(env)}
{boards}
"""


class PhpServer:
    """The private httpd with mod_php: started by tbctl.sh httpd-start, stopped by the pid in
    its pid file."""

    def __init__(self, env: dict):
        self.env = env
        self.root = os.path.join(env["TB_STATE_DIR"], "php-httpd")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.access_log = os.path.join(self.root, "logs", "access_log")

    def __enter__(self):
        for sub in ("conf", "logs", "htdocs", "sessions"):
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)
        os.chmod(self.root, 0o755)
        htdocs = os.path.join(self.root, "htdocs")
        shutil.rmtree(htdocs)
        shutil.copytree(PHP_SRC, htdocs, ignore=shutil.ignore_patterns("*.sh"))
        for d, _, files in os.walk(htdocs):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
        sessions = os.path.join(self.root, "sessions")
        shutil.chown(sessions, "www-data", "www-data")
        os.chmod(sessions, 0o700)
        with open(os.path.join(self.root, "conf", "httpd.conf"), "w") as f:
            f.write(php_conf(self.root, self.port, self.env))
        with open(self.access_log, "w"):
            pass
        tbctl(self.env, "httpd-start", self.root, self.base + "/")
        self.error_log_start = error_log_end(self.root)
        return self

    def __exit__(self, *exc):
        tbctl(self.env, "httpd-stop", self.root)


# ---------------------------------------------------------------------------------------------
# the writer

class CardWriter:
    """While its with block runs, a thread moves cards through the module's /api/sync (the
    demo's: journal, record-level conflict check) on one keep-alive connection, each sync with
    the revision of its last answer (nothing else writes meanwhile, so none is stale): rate per
    second on a schedule, or as fast as it can (rate 0)."""

    def __init__(self, port: int, revision: int, tasks: int, rate: float, nonce: int):
        self.port, self.rev, self.tasks, self.rate = port, revision, tasks, rate
        self.nonce = nonce
        self.count = 0
        self.error = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _post(self, conn, body: bytes):
        conn.request("POST", "/api/sync", body=body,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r.read()

    def move(self, conn):
        self.count += 1
        n = self.count
        change = {"id": 1 + (n * 7) % self.tasks, "status": STATUSES[n % 4],
                  "weight": -(self.nonce * 10000000 + n)}
        body = json.dumps({"type": "sync", "requestId": 20000000000000 + self.nonce * 10000000
                           + n, "revision": self.rev,
                           "tasks": {"updated": [change]}}).encode()
        try:
            status, data = self._post(conn, body)
        except (http.client.RemoteDisconnected, ConnectionError):
            # httpd closed the idle keep-alive connection as the sync went out: the same
            # requestId and body again (answered from the request table if it did arrive)
            conn.close()
            status, data = self._post(conn, body)
        doc = json.loads(data) if data else {}
        if status != 200 or doc.get("success") is not True:
            raise BenchError(f"writer: card move {change}: {status} {data[:300]!r}")
        self.rev = doc["revision"]

    def _run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            start = time.monotonic()
            while not self._stop.is_set():
                if self.rate > 0:
                    wait = start + self.count / self.rate - time.monotonic()
                    if wait > 0 and self._stop.wait(wait):
                        break
                self.move(conn)
        except Exception as e:           # reported by __exit__, in the main thread
            self.error = e
        finally:
            conn.close()

    def __enter__(self):
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.rate_seen = self.count / (time.monotonic() - self._started)
        if self.error and not exc[0]:
            raise BenchError(f"the card writer failed: {self.error}")


# ---------------------------------------------------------------------------------------------
# rows

@dataclasses.dataclass
class Side:
    key: str
    label: str
    samples: List[B.Sample] = dataclasses.field(default_factory=list)

    def median(self, attr: str) -> float:
        return B.Row.median(self.samples, attr)


@dataclasses.dataclass
class Row:
    scenario: str
    conc: int
    sides: List[Side]                   # module, PHP, then the baseline (if any)
    target: str = ""
    notes: List[str] = dataclasses.field(default_factory=list)
    statements: bool = True

    def side(self, key: str) -> Optional[Side]:
        return next((s for s in self.sides if s.key == key), None)

    def rps(self, key: str) -> float:
        side = self.side(key)
        return side.median("rps") if side and side.samples else float("nan")


def settled_count(access_log: str, offset: int, path: str) -> int:
    """The GET requests for path in the access log after byte offset, once that number has not
    grown for 200 ms (the requests under way when wrk stopped are done)."""
    def count() -> int:
        with open(access_log, "rb") as f:
            f.seek(offset)
            return f.read().count(f'"GET {path}?'.encode())
    last, still = count(), 0
    while still < 4:
        time.sleep(0.05)
        now = count()
        still = still + 1 if now == last else 0
        last = now
    return last


def verdict(ok: bool) -> str:
    return "pass" if ok else "MISS"


class Edits(B.Bench):
    """bench.py's Bench (boards, load runs, sync_direct, statement counters) with the PHP
    backend beside the module."""

    def __init__(self, es: Settings, env: dict, root: str, base: str, php: PhpServer):
        bs = B.Settings(reps=es.reps, seconds=es.seconds, xl_seconds=es.seconds,
                        parts=["load", "gzip", "sync"], load_c=[es.load_c], gzip_c=es.load_c,
                        sync_c=es.move_c, xl_c=4, changing_boards=[], gzip_boards=["M"],
                        sizes={"M": es.tasks}, pin=os.environ.get("TB_BENCH_PIN", "0") == "1")
        super().__init__(bs, env, root, base)
        self.es = es
        self.php = php
        self.edit_rows: List[Row] = []
        self.php_answer = 0
        self.php_env = dict(os.environ, TB_BENCH_SESSIONS=str(PHP_SESSIONS))
        self.status_keys = None

    # -- revisions

    def scoped_revisions(self) -> int:
        return int(self.db.value(f"SELECT SUM(`revision`) FROM `boards` WHERE `id` <= {BOARDS}"))

    def php_revisions(self) -> int:
        union = " UNION ALL ".join(f"SELECT `value` FROM `{name}`.`options` WHERE `name` = "
                                   "'revision'" for name in php_databases())
        return int(self.db.value(f"SELECT SUM(`value`) FROM ({union}) r"))

    def settle_on(self, revision: Callable[[], int]):
        last, still = revision(), 0
        while still < 4:
            time.sleep(0.05)
            now = revision()
            still = still + 1 if now == last else 0
            last = now

    # -- the PHP side's checks

    def php_load_url(self, request_id: int) -> str:
        package = {"type": "load", "requestId": request_id, "stores": STORES}
        return (f"{self.php.base}/load.php?data="
                + urllib.parse.quote(json.dumps(package, separators=(",", ":")), safe=""))

    def check_php(self):
        """The PHP backend answers a load with the rows the guide's SQL selects (every task and
        assignment, the active resources) and applies a card move; both checked against the
        database."""
        with urllib.request.urlopen(self.php_load_url(B.REQUEST_ID), timeout=60) as r:
            answer = r.read()
        doc = json.loads(answer)
        want = {"tasks": self.db.value("SELECT COUNT(*) FROM `tasks`"),
                "resources": self.db.value("SELECT COUNT(*) FROM `resources` WHERE `active`"),
                "assignments": self.db.value("SELECT COUNT(*) FROM `assignments`")}
        got = {s: len(doc[s]["rows"]) for s in STORES}
        if doc.get("success") is not True or got != want:
            raise BenchError(f"PHP load.php: rows {got}, the guide's SQL selects {want}: "
                             f"{answer[:300]!r}")
        self.php_answer = len(answer)
        rev = self.db.revision()
        body = json.dumps({"type": "sync", "requestId": B.REQUEST_ID,
                           "tasks": {"updated": [{"id": 3, "status": "done",
                                                  "weight": -5}]}}).encode()
        req = urllib.request.Request(f"{self.php.base}/sync.php", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            doc = json.loads(r.read())
        row = self.db.rows("SELECT `status`, `weight` FROM `tasks` WHERE `id` = 3")[0]
        if doc.get("success") is not True or doc.get("revision") != rev + 1 \
                or row != ("done", -5):
            raise BenchError(f"PHP sync.php: answer {doc}, task 3 now {row}, revision was {rev}")

    # -- runs

    def sync_run(self, base: str, path: str, conc: int, revision: Callable[[], int],
                 boards_spec: str = "", send_revision=True, php=False) -> B.Sample:
        """One wrk run of sync.lua's card moves; every answered sync must have raised the
        revision (summed over the boards) by one, and the counters are divided by the syncs
        applied."""
        rev0 = revision()
        start_rev = rev0 if not boards_spec else \
            int(self.db.value(f"SELECT MIN(`revision`) FROM `boards` WHERE `id` <= {BOARDS}"))
        args = [path, "move", self.nonce(), start_rev if send_revision else "none",
                self.es.tasks, self.boards["M"]["resources"], min(2, conc), "", "", boards_spec]

        def run():
            tb = wrk(base + "/", B.SYNC_LUA, args, conc, self.s.seconds, (),
                     self.client_prefix, self.php_env if php else None)
            self.settle_on(revision)
            return B.Sample.from_tb(tb)
        before = None if php else self.status()
        sample = self.counted(run)
        if before is not None:
            after = self.status()
            sample.extra["status"] = {k: after[k] - before.get(k, 0) for k in after}
        applied = revision() - rev0
        answered = int(sample.extra["responses"])
        if not answered <= applied <= answered + conc + sample.extra["socket_errors"]:
            raise BenchError(f"POST {path} c={conc}: {answered} answers but the revision rose "
                             f"by {applied}")
        sample.requests = applied
        return sample

    def load_run(self, path: str, conc: int, seconds: int, gzip_ok=False, count=False,
                 writer=None) -> B.Sample:
        """bench.py's load run, except that it waits for the loads of path alone to finish: the
        card writer's syncs keep the access log growing."""
        args = [path, self.nonce()] + (["count"] if count else [])
        headers = [B.GZIP_HEADER] if gzip_ok else []
        offset = os.path.getsize(self.access_log)

        def run():
            tb = wrk(self.base + "/", B.LOAD_LUA, args, conc, seconds, headers,
                     self.client_prefix)
            sample = B.Sample.from_tb(tb)
            sample.requests = settled_count(self.access_log, offset, path)
            return sample
        return self.counted(run)

    def php_load_run(self, conc: int, count: bool) -> B.Sample:
        offset = os.path.getsize(self.php.access_log)
        args = ["/load.php", self.nonce()] + (["count"] if count else [])

        def run():
            tb = wrk(self.php.base + "/", B.LOAD_LUA, args, conc, self.s.seconds, (),
                     self.client_prefix, self.php_env)
            sample = B.Sample.from_tb(tb)
            sample.requests = settled_count(self.php.access_log, offset, "/load.php")
            return sample
        return self.counted(run)

    def status(self) -> dict:
        """The module's status counters, summed over its locations."""
        with urllib.request.urlopen(f"{self.base}/taskboard-status?json", timeout=30) as r:
            doc = json.loads(r.read())
        total = {}
        for loc in doc.get("locations", []):
            for k, v in loc.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    total[k] = total.get(k, 0) + v
        return total

    def module_load_run(self, conc: int, gzip_ok=False, count=False) -> B.Sample:
        before = self.status()
        sample = self.load_run("/api/load", conc, self.s.seconds, gzip_ok, count)
        after = self.status()
        sample.extra["status"] = {k: after[k] - before.get(k, 0) for k in after}
        return sample

    def turns(self, sides: List[Side], runs: List[Callable[[], B.Sample]]):
        for _ in range(self.s.reps):
            for side, run in zip(sides, runs):
                side.samples.append(run())

    # -- scenarios

    def move_rows(self):
        revision = self.db.revision
        for conc in self.es.move_c:
            sides = [Side("module", "module /api/bench-sync"), Side("php", "PHP sync.php"),
                     Side("base", "direct SQL (C)")]
            self.turns(sides, [
                lambda: self.sync_run(self.base, "/api/bench-sync", conc, revision),
                lambda: self.sync_run(self.php.base, "/sync.php", conc, revision,
                                      send_revision=False, php=True),
                lambda: self.sync_direct("move", conc)])
            row = Row(f"card move, board M ({self.es.tasks:,} tasks)", conc, sides)
            row.notes.append(self.retry_note(sides[0]))
            self.add_row(row)
        by_c = {r.conc: r for r in self.edit_rows if r.scenario.startswith("card move, board")}
        if 8 in by_c:
            r8 = by_c[8]
            ok_php = r8.rps("module") >= 2 * r8.rps("php")
            parts = [f"≥ 2× PHP {verdict(ok_php)}"]
            if 1 in by_c:
                own = r8.rps("module") / by_c[1].rps("module")
                parts.append(f"≥ 2× own c=1 ({own:.2f}×) {verdict(own >= 2)}")
            r8.target = "; ".join(parts)

    def boards_row(self):
        conc = self.es.boards_c
        order = scoped_offsets()
        module_spec = ",".join(f"{b}:{i * self.es.tasks}" for i, b in enumerate(order))
        php_spec = ",".join(f"{b}:0" for b in range(1, BOARDS + 1))
        sides = [Side("module", f"module /boards/N/bench-sync ({BOARDS} scoped boards)"),
                 Side("php", f"PHP /boards/N/sync.php ({BOARDS} databases)")]
        self.turns(sides, [
            lambda: self.sync_run(self.base, "/boards/{board}/bench-sync", conc,
                                  self.scoped_revisions, module_spec),
            lambda: self.sync_run(self.php.base, "/boards/{board}/sync.php", conc,
                                  self.php_revisions, php_spec, send_revision=False, php=True)])
        row = Row(f"card move, {BOARDS} boards of {self.es.tasks:,} tasks", conc, sides)
        row.target = f"≥ 3× PHP {verdict(row.rps('module') >= 3 * row.rps('php'))}"
        row.notes.append(self.retry_note(sides[0]))
        self.add_row(row)

    def load_rows(self):
        conc = self.es.load_c
        sizes = self.boards["M"]
        # from the cache, revision unchanged
        sides = [Side("module", "module /api/load"), Side("php", "PHP load.php"),
                 Side("base", "static file")]
        self.turns(sides, [lambda: self.module_load_run(conc),
                           lambda: self.php_load_run(conc, False),
                           lambda: self.load_run("/load-M.json", conc, self.s.seconds)])
        cached = Row("load M, revision unchanged (cache)", conc, sides)
        self.check_row_sizes(cached, sizes["bytes"])
        ratio = cached.rps("module") / cached.rps("base")
        cached.target = f"≥ 0.70 static ({ratio:.2f}) {verdict(ratio >= 0.70)}"
        self.add_row(cached)
        # gzip
        sides = [Side("module", "module /api/load, gzip"), Side("base", "static .gz file")]
        self.turns(sides, [lambda: self.module_load_run(conc, gzip_ok=True),
                           lambda: self.load_run("/load-M.json.gz", conc, self.s.seconds,
                                                 gzip_ok=True)])
        gz = Row("load M, gzip", conc, sides)
        ratio = gz.rps("module") / gz.rps("base")
        gz.target = f"≥ 0.50 static .gz ({ratio:.2f}) {verdict(ratio >= 0.50)}"
        gz.notes.append("PHP: no gzip (the guide does not compress)")
        self.add_row(gz)
        # with a writer: at the fixed rate, then at full speed
        for rate in (self.es.rate, 0):
            nonce = self.nonce()
            with CardWriter(int(self.env["TB_HTTP_PORT"]), self.db.revision(), self.es.tasks,
                            rate, nonce) as writer:
                sides = [Side("module", "module /api/load"), Side("php", "PHP load.php"),
                         Side("base", "static file")]
                # measured as the cached row is (load.lua without "count": reading every
                # answer's revision in Lua costs the client a copy of it, which would make the
                # ratio to the cached figure a ratio of two different clients); what the loads
                # saw comes from the module's status counters
                self.turns(sides, [lambda: self.module_load_run(conc),
                                   lambda: self.php_load_run(conc, False),
                                   lambda: self.load_run("/load-M.json", conc, self.s.seconds)])
            what = f"{rate:g}/s" if rate else "full speed"
            row = Row(f"load M, writer moving cards at {what}", conc, sides, statements=False)
            mod = row.rps("module")
            if rate:
                of_cached = mod / cached.rps("module")
                row.target = (f"≥ 50% of cached ({of_cached:.0%}) "
                              f"{verdict(of_cached >= 0.5)}")
            else:
                of_static = mod / row.rps("base")
                row.target = (f"≥ 25% of static ({of_static:.0%}) "
                              f"{verdict(of_static >= 0.25)}")
            row.notes.append(f"writer {writer.rate_seen:,.0f} moves/s; "
                             f"module / cached {mod / cached.rps('module'):.2f}")
            row.notes.append(self.rebuilt_note(row.side("module")))
            self.add_row(row)

    def retry_note(self, side: Side) -> str:
        """The module's rollbacks and errors per applied sync (status counters): syncs that lost
        to another transaction and ran again."""
        per = [{k: s.extra.get("status", {}).get(k, 0) / max(1, s.requests)
                for k in ("rollbacks", "errors", "dbErrors")} for s in side.samples]
        return "module per sync: " + ", ".join(
            f"{statistics.median(p[k] for p in per):.2f} {k}" for k in ("rollbacks", "errors",
                                                                        "dbErrors"))

    def rebuilt_note(self, side: Side) -> str:
        """What the module did for its loads, from its status counters (summed over its
        locations, deltas per run): answered from the cache, rebuilt from the kept answer and the
        journal, read from the stores."""
        deltas = [s.extra.get("status", {}) for s in side.samples]
        loads = statistics.median(d.get("loads", 0) for d in deltas) or 1

        def share(*names):
            for name in names:
                if all(name in d for d in deltas):
                    return f"{statistics.median(d[name] / max(1, d.get('loads', 0)) for d in deltas):.0%}"
            return "n/a"
        return (f"of {loads:,.0f} loads/run: cache hits {share('cacheHits', 'cache_hits')}, "
                f"rebuilt {share('loadsRebuilt', 'loads_rebuilt')}, "
                f"read {share('loadsRead', 'loads_read')} (status counters; n/a: this module "
                "has no such counter)")

    def check_row_sizes(self, row: Row, body: int):
        """The module's and the static file's answers of every run had the saved answer's size
        (as bench.py checks)."""
        mod, base = row.side("module"), row.side("base")
        B.check_sizes(B.Row(row.scenario, "M", row.conc, "static file", mod.samples,
                            base.samples), body)

    def add_row(self, row: Row):
        self.edit_rows.append(row)
        progress(f"{row.scenario} c={row.conc}: " + ", ".join(
            f"{s.key} {s.median('rps'):,.0f}/s" for s in row.sides) + f" {row.target}")

    def run_edits(self):
        self.use_board("M")
        self.check_php()
        # the check moved a card: the static files are made again from the board as it is now;
        # the loads come first, before card moves change the answer's size
        self.use_board("M")
        progress(f"board M: {self.boards['M']}")
        if "load" in self.es.parts:
            self.load_rows()
        if "move" in self.es.parts:
            self.move_rows()
        if "boards" in self.es.parts:
            self.boards_row()


# ---------------------------------------------------------------------------------------------
# the report

def fmt_side(side: Optional[Side]) -> str:
    if not side or not side.samples:
        return "–"
    return (f"{side.median('rps'):,.0f} ({side.median('p50'):.2f} / "
            f"{side.median('p99'):.2f})")


def fmt_ratio(row: Row, key: str) -> str:
    side = row.side(key)
    if not side or not side.samples:
        return "–"
    return f"{row.rps('module') / side.median('rps'):.2f}"


def fmt_statements(row: Row) -> str:
    if not row.statements:
        return "– (the writer's count too)"
    out = []
    for side in row.sides:
        q = max(0.0, side.median("/Questions"))
        out.append(f"{q:.1f}")
    return " / ".join(out)


def table(rows: List[Row]) -> List[str]:
    out = ["| scenario | c | module req/s (p50 / p99 ms) | PHP backend req/s (p50 / p99 ms) "
           "| baseline | baseline req/s (p50 / p99 ms) | module / PHP | module / baseline "
           "| target | statements/req (module / PHP / baseline) | notes |",
           "|---|--:|--:|--:|---|--:|--:|--:|---|--:|---|"]
    for r in rows:
        base = r.side("base")
        notes = list(r.notes)
        for side in r.sides:
            errors = sum(int(s.extra.get("socket_errors", 0)) for s in side.samples)
            if errors:
                notes.append(f"{side.key}: {errors} wrk socket errors in {len(side.samples)} runs")
        out.append(f"| {r.scenario} | {r.conc} | {fmt_side(r.side('module'))} "
                   f"| {fmt_side(r.side('php'))} | {base.label if base else '–'} "
                   f"| {fmt_side(base)} | {fmt_ratio(r, 'php')} | {fmt_ratio(r, 'base')} "
                   f"| {r.target} | {fmt_statements(r)} | {'; '.join(notes)} |")
    return out


def xl_line(env: dict) -> str:
    """The XL memory figure of bench.py's last run in this state dir, if there is one."""
    path = os.path.join(env["TB_STATE_DIR"], "results.json")
    try:
        with open(path) as f:
            memory = json.load(f).get("memory")
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(path)))
    except (OSError, ValueError):
        memory = None
    if not memory:
        return ("- XL < 32 MiB per concurrent load: n/a (not measured here; bench.py's xl part, "
                "`make -f Makefile.apxs bench-load`)")
    per = memory["per_load_mib"]
    return (f"- XL < 32 MiB per concurrent load: {per} MiB, {verdict(per < B.XL_MIB_TARGET)} "
            f"(bench.py's run of {when}, in the section above)")


def section(edits: Optional[Edits], es: Settings, env: dict, started: float, load_start: str,
            version: str, failure: Optional[str], log: List[str]) -> str:
    lines = [
        "## Performance under edits",
        "",
        f"- module: {version}; {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; wall time "
        f"{time.monotonic() - started:.0f} s (`make -f Makefile.apxs bench-edits`, "
        "tests/bench/edits.py)",
        f"- machine: {os.cpu_count()} CPUs (nproc), {B.cpu_model()}; load average "
        f"{load_start} at the start, {B.loadavg()} at the end. wrk, both httpds and MariaDB "
        "share these CPUs (and whatever else runs on the machine)",
        f"- runs: median of {es.reps} runs of {es.seconds} s per side, the sides of a row in "
        "turn (module, PHP, baseline, module, ...); wrk -t1 at c=1, -t2 above",
        "- module: the demo configuration (event MPM, 25 threads per child, DBDMax 10) plus "
        "bench.py's /api/bench-sync (TaskBoardConflictPolicy off) and conf/taskboard-boards.conf's "
        "boards (TaskBoardScope) with a /boards/N/bench-sync of the same kind",
        f"- PHP backend: the seed guide's load.php and sync.php (tests/bench/php), PHP "
        f"{php_version()} (Debian's libapache2-mod-php, opcache on, PDO over the unix socket, a "
        "new connection and a file session per request) in a private httpd: prefork, "
        + ", ".join(f"{k} {v}" for k, v in PREFORK.items())
        + f"; its clients keep {PHP_SESSIONS} sessions per wrk thread; its syncs carry no "
        "revision (the guide then skips its optimistic check: the equivalent of "
        "TaskBoardConflictPolicy off)",
    ]
    if edits and "M" in edits.boards:
        b = edits.boards["M"]
        lines.append(f"- board M: {b['tasks']:,} tasks, {b['resources']:,} resources, "
                     f"{b['assignments']:,} assignments; answers: module {b['bytes']:,} B "
                     f"({b.get('gzip_bytes', 0):,} B gzip), PHP {edits.php_answer:,} B (the "
                     "guide's SQL: all columns as strings, active resources only); the PHP "
                     "backend reads and writes the same tables and revision row as the module; "
                     f"{BOARDS} boards: the module's in sql/boards.sql's tables (boards.py's "
                     f"numbering), PHP's in {BOARDS} databases taskboard_php1..{BOARDS} with "
                     "the sample schema and make_board.sh's board each")
    if edits and edits.edit_rows:
        lines += ["", *table(edits.edit_rows), "",
                  "- req/s: wrk's completed requests per second (direct SQL: sync_direct's "
                  "transactions); ratios of the medians. statements/req: MariaDB's Questions "
                  "per request httpd handled (per applied sync for syncs). Targets are the "
                  "issue's; pass/MISS is reported, never fails the bench.",
                  xl_line(env)]
    lines += section_end(log, failure, "The edits bench")
    return "\n".join(lines) + "\n"


def save_raw(edits: Edits):
    rows = []
    for r in edits.edit_rows:
        sides = []
        for side in r.sides:
            samples = [dataclasses.asdict(s) for s in side.samples]
            for s in samples:
                s["extra"].pop("output", None)
            sides.append({"key": side.key, "label": side.label, "samples": samples})
        rows.append({"scenario": r.scenario, "conc": r.conc, "target": r.target,
                     "notes": r.notes, "sides": sides})
    with open(os.path.join(edits.env["TB_STATE_DIR"], "edits.json"), "w") as f:
        json.dump({"settings": dataclasses.asdict(edits.es), "board": edits.boards,
                   "php_answer": edits.php_answer, "rows": rows}, f, indent=1)


def main() -> int:
    es = Settings.from_env()
    php_module()
    if "move" in es.parts and not os.access(B.SYNC_DIRECT, os.X_OK):
        sys.exit(f"bench-edits: {B.SYNC_DIRECT} is not built (make -f Makefile.apxs "
                 "bench-edits builds it)")
    started, load_start = time.monotonic(), B.loadavg()
    failure, edits, log, version = None, None, [], "unknown"
    with servers(prepare_db(es), edits_conf) as (env, root, base):
        version = B.module_version(env)
        log_start = error_log_end(root)
        progress(where(env, base))
        try:
            with PhpServer(env) as php:
                progress(f"PHP backend {php.base} (pid file {php.root}/logs/httpd.pid)")
                try:
                    edits = Edits(es, env, root, base, php)
                    edits.run_edits()
                except BenchError as e:
                    failure = str(e)
                log = error_log_since(root, log_start) + [
                    "(PHP) " + line for line in error_log_since(php.root, php.error_log_start)]
        except subprocess.CalledProcessError as e:
            failure = f"the PHP httpd did not start: {e}"
        text = section(edits, es, env, started, load_start, version, failure, log)
        path = save_section(env["TB_STATE_DIR"], "Performance under edits", text)
        if edits:
            save_raw(edits)
    return finish("bench-edits", text, path, failure)


if __name__ == "__main__":
    sys.exit(main())
