"""Test machinery for the mod_taskboard integration suite.

Shaped like httpd's own pyhttpd (test/pyhttpd): a session-wide environment (`TbEnv`) that owns a
private MariaDB started through tests/tbctl.sh, an `Httpd` that renders a ServerRoot from a base
config plus a per-class `test.conf`, and an error-log check that runs after every test.  The
builder is deliberately dumb: it writes the text it is given and knows nothing of the module.
"""

import base64
import datetime
import decimal
import email.utils
import hashlib
import json
import os
import re
import resource
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import pymysql
import requests

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TBCTL = os.path.join(REPO, "tests", "tbctl.sh")
# The sample board (sql/sample.sql: the implementation guide's board, what `make demo` shows) and
# the edge cases of each field type that some test classes put on it (SAMPLE_EDGES).
SCHEMA_SQL = os.path.join(REPO, "sql", "schema.sql")
SAMPLE_SQL = os.path.join(REPO, "sql", "sample.sql")
EDGES_SQL = os.path.join(REPO, "tests", "integration", "sample_edges.sql")
APACHE2 = "/usr/sbin/apache2"
MODULES_DIR = "/usr/lib/apache2/modules"
DEFAULT_MODULE = os.path.join(REPO, "mod_taskboard", ".libs", "mod_taskboard.so")

DB_NAME = "taskboard"
DB_USER = "taskboard"
DB_PASS = "taskboard"

# What the client sees in a response must never reveal the database or the server's insides.
RE_LEAK = re.compile(
    r"(select\s.+\sfrom|insert\s+into|update\s+`|delete\s+from|mysql|mariadb|sqlstate|errno|"
    r"can't connect|syntax to use|`\w+`|/work/|/usr/|\.c:\d+|apr_dbd)",
    re.IGNORECASE)


# Files a test run leaves for a person to look at (label, path), listed at the end of the run
# (conftest.py, pytest_terminal_summary): the browser tests' screenshot.
ARTIFACTS: List[Tuple[str, str]] = []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The modules of Basic authentication against an htpasswd file.
AUTH_MODULES = ("auth_basic", "authn_core", "authn_file", "authz_user")


def auth_mods() -> str:
    """LoadModule lines of AUTH_MODULES, for a test.conf that authenticates."""
    return "".join(f'LoadModule {m}_module "{MODULES_DIR}/mod_{m}.so"\n' for m in AUTH_MODULES)


def write_htpasswd(httpd, users: dict, name: str = "htpasswd") -> str:
    """An htpasswd file ({SHA} digests) of users (name -> password) in the server's conf/,
    readable by httpd's user; returns its path."""
    path = os.path.join(httpd.root, "conf", name)
    with open(path, "w") as f:
        for user, pw in users.items():
            digest = base64.b64encode(hashlib.sha1(pw.encode()).digest()).decode()
            f.write(f"{user}:{{SHA}}{digest}\n")
    os.chmod(path, 0o644)
    return path


def poll(fn, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Calls fn() until it returns a true value or `timeout` seconds passed; returns that value."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s (last: {last!r})")
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# ------------------------------------------------------------------------------------------------
# JSON helpers

def _no_dup_pairs(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError(f"duplicate key {k!r} in JSON object")
        obj[k] = v
    return obj


def jloads(text: str):
    """json.loads that refuses duplicate keys (a section sent twice is a bug)."""
    return json.loads(text, object_pairs_hook=_no_dup_pairs)


def strict_equal(a, b) -> bool:
    """Equality that does not take True for 1 or 1 for 1.0 (Python's == does)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


# ------------------------------------------------------------------------------------------------
# Store mappings, as declared in httpd.conf, and the rows the database says a load must return

FIELD_TYPES = ("int", "number", "string", "text", "boolean", "date", "datetime", "json")


@dataclass
class Field:
    name: str
    type: str
    column: str
    aliases: List[str] = field(default_factory=list)     # alias=: other names a sync may use


@dataclass
class Store:
    id: str
    table: str
    id_column: str = "id"
    id_kind: str = "auto"
    order: List[Tuple[str, str]] = field(default_factory=list)
    fields: List[Field] = field(default_factory=list)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


@dataclass
class Board:
    stores: Dict[str, Store]
    revision: Optional[Tuple[str, str, Optional[str], Optional[str]]] = None  # table, col, keycol, key


def parse_board(conf_text: str) -> Board:
    """Reads the <TaskBoardStore> sections and TaskBoardRevision of a config text.

    Only what the tests need to compute expected loads: one board per text (all stores found).
    """
    stores: Dict[str, Store] = {}
    revision = None
    cur: Optional[Store] = None
    for raw in conf_text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        low = line.lower()
        if low.startswith("<taskboardstore"):
            sid = line[len("<TaskBoardStore"):].strip().rstrip(">").strip()
            cur = Store(id=sid, table=sid)
            stores[sid] = cur
            continue
        if low.startswith("</taskboardstore"):
            cur = None
            continue
        words = shlex.split(line)
        d = words[0].lower()
        if d == "taskboardrevision":
            keycol = key = None
            if len(words) > 3 and "=" in words[3]:
                keycol, key = words[3].split("=", 1)
            revision = (words[1], words[2], keycol, key)
        elif cur is None:
            continue
        elif d == "taskboardtable":
            cur.table = words[1]
        elif d == "taskboardid":
            cur.id_column = words[1]
            if len(words) > 2:
                cur.id_kind = words[2].lower()
        elif d == "taskboardorder":
            order = []
            for w in words[1:]:
                if w.upper() in ("ASC", "DESC") and order:
                    order[-1] = (order[-1][0], w.upper())
                else:
                    order.append((w, "ASC"))
            cur.order = order
        elif d == "taskboardfield":
            name, ftype = words[1], words[2].lower()
            column, aliases = name, []
            for opt in words[3:]:
                if opt.lower().startswith("column="):
                    column = opt.split("=", 1)[1]
                elif opt.lower().startswith("alias="):
                    aliases = opt.split("=", 1)[1].split(",")
            cur.fields.append(Field(name, ftype, column, aliases))
    return Board(stores, revision)


def db_to_json(ftype: str, v):
    """The JSON value a load must carry for database value v of a field of type ftype."""
    if v is None:
        return None
    if isinstance(v, (bytes, bytearray)):
        v = v.decode("utf-8")
    if ftype == "int":
        return int(v)
    if ftype == "number":
        return decimal.Decimal(str(v))
    if ftype == "boolean":
        return bool(int(v))
    if ftype in ("string", "text"):
        return str(v)
    if ftype == "date":
        return v.strftime("%Y-%m-%d") if isinstance(v, datetime.date) else str(v)
    if ftype == "datetime":
        if isinstance(v, datetime.datetime):
            return v.strftime("%Y-%m-%dT%H:%M:%SZ")
        return str(v)
    if ftype == "json":
        return jloads(v)
    raise ValueError(f"unknown field type {ftype}")


def value_matches(ftype: str, actual, expected) -> bool:
    if expected is None:
        return actual is None
    if ftype == "number":
        return (type(actual) in (int, float)
                and abs(decimal.Decimal(repr(actual)) - expected) < decimal.Decimal("1e-9"))
    if ftype == "json":
        return strict_equal(actual, expected)
    if ftype == "int":
        return type(actual) is int and actual == expected
    if ftype == "boolean":
        return type(actual) is bool and actual == expected
    return type(actual) is str and actual == expected


def q(ident: str) -> str:
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", ident), ident
    return f"`{ident}`"


def order_by(store: Store) -> str:
    parts = [f"{q(c)} {d}" for c, d in store.order] + [f"{q(store.id_column)} ASC"]
    return ", ".join(parts)


# ------------------------------------------------------------------------------------------------
# The database, seen from the tests (pymysql, the board's own user)

RE_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|TRUNCATE|ALTER|DROP|CREATE)\b", re.I)
RE_REVISION_TABLE = re.compile(r"options\b", re.I)


class Db:

    def __init__(self, port: int):
        self.port = port
        self._conn = None

    def conn(self):
        if self._conn is not None:
            try:
                self._conn.ping(reconnect=False)
            except Exception:
                self._close()
        if self._conn is None:
            self._conn = pymysql.connect(
                host="127.0.0.1", port=self.port, user=DB_USER, password=DB_PASS,
                database=DB_NAME, charset="utf8mb4", autocommit=True, connect_timeout=5,
                init_command="SET time_zone = '+00:00'")
        return self._conn

    def _close(self):
        try:
            if self._conn is not None:
                self._conn.close()
        except Exception:
            pass
        self._conn = None

    def close(self):
        self._close()

    def query(self, sql: str, args=None) -> List[tuple]:
        with self.conn().cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())

    def scalar(self, sql: str, args=None):
        rows = self.query(sql, args)
        return rows[0][0] if rows else None

    def execute(self, sql: str, args=None) -> int:
        with self.conn().cursor() as cur:
            n = cur.execute(sql, args)
        self._wrote(sql)
        return n

    def executemany(self, sql: str, seq) -> int:
        with self.conn().cursor() as cur:
            n = cur.executemany(sql, seq)
        self._wrote(sql)
        return n

    def _wrote(self, sql: str):
        """The module serves loads from its cache while the revision stays the same, so a writer
        outside it must raise the revision (docs/protocol.md, "The load cache"): the tests' own writes to the
        board tables do so, like any other such writer."""
        if RE_WRITE.match(sql) and not RE_REVISION_TABLE.search(sql):
            self.raise_revisions()

    def raise_revisions(self):
        """Raises the revision row of every revision table of the test boards (options,
        p_options, ...)."""
        with self.conn().cursor() as cur:
            cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                        "DATABASE() AND table_name LIKE '%%options'")
            for (table,) in list(cur.fetchall()):
                cur.execute(f"UPDATE {q(table)} SET `value` = `value` + 1 "
                            f"WHERE `name` = 'revision'")

    def revision(self, board: Board):
        if board.revision is None:
            return None
        table, col, keycol, key = board.revision
        if keycol:
            return self.scalar(f"SELECT {q(col)} FROM {q(table)} WHERE {q(keycol)} = %s", (key,))
        return self.scalar(f"SELECT {q(col)} FROM {q(table)}")

    def count(self, table: str) -> int:
        return self.scalar(f"SELECT COUNT(*) FROM {q(table)}")

    def expected_rows(self, store: Store, page: Optional[int] = None,
                      page_size: Optional[int] = None) -> List[dict]:
        """The rows a load of `store` must return, in order, with JSON-typed values."""
        cols = [store.id_column] + [f.column for f in store.fields]
        sql = (f"SELECT {', '.join(q(c) for c in cols)} FROM {q(store.table)} "
               f"ORDER BY {order_by(store)}")
        if page is not None:
            sql += f" LIMIT {int(page_size)} OFFSET {(int(page) - 1) * int(page_size)}"
        out = []
        for row in self.query(sql):
            id_type = "int" if store.id_kind == "auto" else "string"
            rec = {"id": db_to_json(id_type, row[0])}
            for f, v in zip(store.fields, row[1:]):
                rec[f.name] = db_to_json(f.type, v)
            out.append(rec)
        return out

    def snapshot(self, *tables: str) -> "Snapshot":
        return Snapshot(self, tables)


class Snapshot:
    """Saves whole tables and puts them back, for tests that change the sample data."""

    def __init__(self, db: Db, tables):
        self.db = db
        self.saved = {}
        for t in tables:
            with db.conn().cursor() as cur:
                cur.execute(f"SELECT * FROM {q(t)}")
                cols = [d[0] for d in cur.description]
                self.saved[t] = (cols, list(cur.fetchall()))

    def restore(self):
        c = self.db.conn()
        with c.cursor() as cur:
            cur.execute("SET FOREIGN_KEY_CHECKS = 0")
            try:
                for t, (cols, rows) in self.saved.items():
                    cur.execute(f"DELETE FROM {q(t)}")
                    if rows:
                        cur.executemany(
                            f"INSERT INTO {q(t)} ({', '.join(q(x) for x in cols)}) VALUES "
                            f"({', '.join(['%s'] * len(cols))})", rows)
            finally:
                cur.execute("SET FOREIGN_KEY_CHECKS = 1")
        if not any(RE_REVISION_TABLE.search(t) for t in self.saved):
            self.db.raise_revisions()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.restore()
        return False


# ------------------------------------------------------------------------------------------------
# Error log checking

RE_ERRLEVEL = re.compile(r"^\[[^\]]*\] \[[^\]]*:(warn|error|crit|alert|emerg)\]")
FATAL_MARKERS = re.compile(
    r"(Segmentation fault|AddressSanitizer|Assertion|exit signal|glibc detected|"
    r"pool concurrency check|double free|stack smashing)")
RE_LOGNO = re.compile(r"^(TB|AH)\d{5}$")
# httpd's parent, when it reaps a child that a signal killed
RE_CHILD_CRASH = re.compile(r"AH0005[12]: child pid (?P<pid>\d+) exit signal (?P<signal>[^,]+)"
                            r"(?P<core>, possible coredump in .*)?")
GDB = "/usr/bin/gdb"
CORES_KEPT = 3          # per httpd and run; later ones are removed once their backtrace is shown


def core_pattern() -> str:
    try:
        with open("/proc/sys/kernel/core_pattern") as f:
            return f.read().strip()
    except OSError:
        return "core"


GDB_NOISE = ("[New LWP", "[Thread debugging", "Using host libthread_db", "warning: Section `.reg")
RE_GDB_THREAD = re.compile(r"^Thread (\d+) \(")
RE_GDB_FRAME_FN = re.compile(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\S+)")


def _group_threads(lines: List[str]) -> List[str]:
    """gdb's `thread apply all bt` with the threads whose stacks call the same functions (the
    idle workers) printed once, under "Threads 19, 18, 17 (the same stack; the first shown):"."""
    head, blocks, cur = [], [], None
    for ln in lines:
        if RE_GDB_THREAD.match(ln):
            cur = [ln]
            blocks.append(cur)
        elif cur is not None:
            cur.append(ln)
        else:
            head.append(ln)
    groups: Dict[tuple, List[List[str]]] = {}
    for b in blocks:
        key = tuple(m.group(1) if m else ln for ln in b[1:]
                    for m in [RE_GDB_FRAME_FN.match(ln)])
        groups.setdefault(key, []).append(b)
    out = head
    for same in groups.values():
        if len(same) > 1:
            ids = ", ".join(RE_GDB_THREAD.match(b[0]).group(1) for b in same)
            out.append(f"Threads {ids} (the same stack; the first shown):")
        out += same[0]
    return out


def gdb_backtrace(core: str, max_lines: int = 600) -> List[str]:
    """Every thread's stack in `core` of /usr/sbin/apache2, the crashing thread first."""
    if not os.path.exists(GDB):
        return [f"(no {GDB}: install it with tests/tbctl.sh deps to see the backtrace)"]
    try:
        p = subprocess.run([GDB, "-nx", "-batch", "-iex", "set debuginfod enabled off",
                            "-ex", "bt", "-ex", "thread apply all bt", APACHE2, core],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        return ["(gdb did not finish within 180 s)"]
    lines = _group_threads([ln for ln in p.stdout.splitlines()
                            if ln.strip() and not ln.startswith(GDB_NOISE)])
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"... ({len(lines) - max_lines} more lines)"]
    return lines or [f"(gdb printed nothing; stderr: {p.stderr.strip()[:500]})"]


class ErrorLog:
    """The new lines of an httpd error_log since the last check."""

    def __init__(self, path: str):
        self.path = path
        self.offset = 0
        self.expected: List[re.Pattern] = []
        self.seen: List[str] = []

    def _read_new(self) -> List[str]:
        try:
            size = os.path.getsize(self.path)
        except OSError:
            return []
        if size < self.offset:      # rotated or removed: start over
            self.offset = 0
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        # only complete lines; a partial one is read next time
        end = data.rfind(b"\n") + 1
        self.offset += end
        return data[:end].decode("utf-8", "replace").splitlines()

    def expect(self, *patterns: str):
        for p in patterns:
            if RE_LOGNO.match(p):
                p = rf"\b{p}\b"
            self.expected.append(re.compile(p))

    def recent(self) -> List[str]:
        """Lines logged since the last check (also kept for the check itself)."""
        self.seen.extend(self._read_new())
        return list(self.seen)

    def check(self) -> List[str]:
        """Returns the unexpected problem lines since the last check and starts a new period."""
        lines = self.recent()
        self.seen = []
        bad = []
        for line in lines:
            if FATAL_MARKERS.search(line):
                bad.append(line)
            elif RE_ERRLEVEL.search(line) and not any(p.search(line) for p in self.expected):
                bad.append(line)
        self.expected = []
        return bad

    def skip_to_end(self):
        self._read_new()
        self.seen = []
        self.expected = []


# ------------------------------------------------------------------------------------------------
# httpd

BASE_CONF = """\
# generated by tests/integration/tbtest.py: base configuration, test.conf holds the test's part
ServerRoot "{root}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{root}/logs/httpd.pid"
ErrorLog "{root}/logs/error_log"
CoreDumpDirectory "{root}/cores"
DefaultRuntimeDir "{root}/logs"
LogLevel {loglevel}
User www-data
Group www-data

LoadModule mpm_event_module "{mods}/mod_mpm_event.so"
LoadModule authz_core_module "{mods}/mod_authz_core.so"
LoadModule mime_module "{mods}/mod_mime.so"
{dbd_load}LoadModule taskboard_module "{module}"

TypesConfig /etc/mime.types
DocumentRoot "{root}/htdocs"
Timeout 15
KeepAlive On
StartServers 1
ServerLimit 2
ThreadsPerChild 16
MinSpareThreads 8
MaxSpareThreads 32
MaxRequestWorkers 32
LogFormat "%h %t \\"%r\\" %>s %B %O %D \\"%{{X-TB-Test}}i\\"" tb
CustomLog "{root}/logs/access_log" tb

{dbd_conf}
Include "{root}/conf/test.conf"
"""

DBD_CONF = """\
DBDriver mysql
DBDParams "host=127.0.0.1 port={dbport} user={user} pass={pw} dbname={db} reconnect=0 group=taskboard"
DBDInitSQL "SET NAMES utf8mb4, time_zone = '+00:00'"
DBDInitSQL "SET SESSION wsrep_sync_wait = 1"
"""


class Httpd:
    """One generated ServerRoot: conf/httpd.conf (base) + conf/test.conf (the test's part)."""

    def __init__(self, env: "TbEnv", name: str):
        self.env = env
        self.name = name
        self.root = os.path.join(env.state_dir, name)
        self.port = free_port()
        # the database this server's DBDParams name, and DBD lines added after DBDInitSQL: the
        # session's MariaDB (env.db_port) unless a test points it elsewhere (the Galera tests:
        # one node of the cluster, or HAProxy)
        self.db_port: Optional[int] = None
        self.dbd_extra = ""
        self.test_conf = ""
        self.error_log = ErrorLog(os.path.join(self.root, "logs", "error_log"))
        self.started = False
        for d in ("", "conf", "logs", "htdocs", "cores"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
            os.chmod(os.path.join(self.root, d), 0o755)
        # the children (www-data) write their cores there (see crash_reports)
        os.chmod(self.cores_dir, 0o777)
        self.cores_seen = set()
        self.cores_shown = 0
        self.started_at = time.time()
        # a session starts with empty logs: the last run's lines are not this run's problems
        for f in ("error_log", "access_log", "startup.log"):
            try:
                os.remove(os.path.join(self.root, "logs", f))
            except FileNotFoundError:
                pass
        # and no cores: those of the last run were reported by it
        for f in os.listdir(self.cores_dir):
            if os.path.isfile(os.path.join(self.cores_dir, f)):
                os.remove(os.path.join(self.cores_dir, f))

    # -- configuration

    @property
    def conf_path(self) -> str:
        return os.path.join(self.root, "conf", "httpd.conf")

    @property
    def test_conf_path(self) -> str:
        return os.path.join(self.root, "conf", "test.conf")

    def base_conf(self, dbd: bool = True) -> str:
        return BASE_CONF.format(
            root=self.root, port=self.port, loglevel=self.env.loglevel, mods=MODULES_DIR,
            module=self.env.module,
            dbd_load=(f'LoadModule dbd_module "{MODULES_DIR}/mod_dbd.so"\n' if dbd else ""),
            dbd_conf=(DBD_CONF.format(dbport=self.db_port or self.env.db_port, user=DB_USER,
                                      pw=DB_PASS, db=DB_NAME) + self.dbd_extra if dbd else ""))

    def install(self, test_conf: str, dbd: bool = True):
        """Writes httpd.conf and test.conf; takes effect on the next start."""
        self.test_conf = test_conf
        with open(self.conf_path, "w") as f:
            f.write(self.base_conf(dbd=dbd))
        with open(self.test_conf_path, "w") as f:
            f.write(test_conf)

    def config_test(self) -> Tuple[int, str]:
        env = dict(os.environ)
        if env.get("TB_HTTPD_PRELOAD"):         # the sanitizer run's module needs its runtime
            env["LD_PRELOAD"] = env["TB_HTTPD_PRELOAD"]
        p = subprocess.run([APACHE2, "-t", "-d", self.root, "-f", self.conf_path], env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout + p.stderr

    # -- processes

    def pid(self) -> Optional[int]:
        try:
            with open(os.path.join(self.root, "logs", "httpd.pid")) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def start(self):
        p = self.env.tbctl("httpd-start", self.root, f"http://127.0.0.1:{self.port}/", check=False)
        self.started = True
        assert p.returncode == 0, (
            f"httpd did not start (exit {p.returncode}):\n{p.stdout}{p.stderr}"
            f"\n--- error_log ---\n{self.tail_log()}")
        poll(lambda: self.answers(), 10, what="httpd answering")

    def stop(self):
        pid = self.pid()
        if pid is None:
            return
        p = self.env.tbctl("httpd-stop", self.root, check=False)
        if p.returncode != 0 or pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
            poll(lambda: not pid_alive(pid), 20, what=f"httpd {pid} gone")

    def restart(self):
        self.stop()
        self.start()

    def reload(self, test_conf: str, dbd: bool = True):
        """Stops the server (by pid, so a broken new config cannot prevent it), installs, starts."""
        self.stop()
        self.install(test_conf, dbd=dbd)
        self.start()

    def answers(self) -> bool:
        try:
            requests.get(self.url("/"), timeout=2)
            return True
        except requests.RequestException:
            return False

    def tail_log(self, n: int = 30) -> str:
        try:
            with open(self.error_log.path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no error_log)"

    # -- requests

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, method: str, path: str, **kw) -> requests.Response:
        headers = dict(kw.pop("headers", None) or {})
        headers.setdefault("X-TB-Test", self.env.current_test or "-")
        kw.setdefault("timeout", 30)
        return requests.request(method, self.url(path), headers=headers, **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.request("POST", path, **kw)

    # -- error log

    def expect_log(self, *patterns: str):
        """Declares log lines (regexes, or log numbers such as TB00123/AH00629) this test causes."""
        self.error_log.expect(*patterns)

    # -- crashed children

    @property
    def cores_dir(self) -> str:
        return os.path.join(self.root, "cores")

    def crash_reports(self, bad_lines: List[str]) -> List[str]:
        """For the error-log lines of children killed by a signal (AH00052) and for any new core
        file: the backtrace of every thread of the core (gdb), so that the test during which a
        child died fails with where it died, not only with the log line."""
        crashes = [m for m in map(RE_CHILD_CRASH.search, bad_lines) if m]
        cores = self._new_cores()
        if not crashes and not cores:
            return []
        out = []
        pattern = core_pattern()
        if crashes and not cores:
            kept = sorted(c for c in self.cores_seen if os.path.basename(c).startswith("seen-"))
            if pattern.startswith("|"):
                where = (f"kernel.core_pattern hands cores to {pattern[1:].split()[0]!r}, "
                         "so there is no core file here to read")
            elif kept:
                where = (f"its core was shown as it appeared, before this line ({kept[-1]}; "
                         "two children dying at once leave one core with core_uses_pid=0)")
            elif any(m.group("core") for m in crashes):
                where = (f"httpd says a core was dumped, but none is in {self.cores_dir} "
                         f"(kernel.core_pattern {pattern!r})")
            else:
                where = ("the kernel wrote no core (RLIMIT_CORE of httpd, or "
                         f"kernel.core_pattern {pattern!r})")
            out.append(f"{self.name}: child {', '.join(m.group('pid') for m in crashes)} died "
                       f"({crashes[0].group('signal')}); {where}")
        for core in cores:
            out.append(f"{self.name}: core {core} (gdb -batch -ex 'thread apply all bt' "
                       f"{APACHE2} {core}):\n  " + "\n  ".join(gdb_backtrace(core)))
            self.cores_shown += 1
            if self.cores_shown <= CORES_KEPT or not os.path.basename(core).startswith("seen-"):
                ARTIFACTS.append(("core of a crashed httpd child", core))
            else:
                # a crash on every request would fill the disk (a core of a ThreadSanitizer
                # build takes some 350 MB): the backtrace above is what is kept
                os.remove(core)
                out.append(f"{self.name}: (core removed: the first {CORES_KEPT} are kept)")
        return out

    def _new_cores(self) -> List[str]:
        """Core files written since the last look: in CoreDumpDirectory when kernel.core_pattern
        is a relative name (httpd's crash handler changes there before the core is written), in
        the pattern's own folder when it is absolute.  Each is renamed after the test that saw it
        and kept for a person to look at (listed at the end of the run)."""
        pattern = core_pattern()
        if pattern.startswith("|"):
            return []
        folder = self.cores_dir
        if pattern.startswith("/"):
            folder = os.path.dirname(pattern)
            if "%" in folder or not os.path.isdir(folder):
                return []
        found = []
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if (path in self.cores_seen or not os.path.isfile(path)
                    or name.startswith("seen-")):
                continue
            if folder != self.cores_dir and (not name.startswith("core")
                                             or os.path.getmtime(path) < self.started_at):
                continue
            # the kernel writes the core before the parent reaps the child and logs it; a core
            # found before that line is waited for until its size stays put
            size = -1
            for _ in range(50):
                if os.path.getsize(path) == size:
                    break
                size = os.path.getsize(path)
                time.sleep(0.2)
            if folder == self.cores_dir:
                # renamed, so that the next core can take its name (core_pattern "core")
                kept = os.path.join(folder, f"seen-{self.env.current_test or 'between-tests'}-"
                                            f"{len(self.cores_seen) + 1}-{name}")
                os.rename(path, kept)
                path = kept
            self.cores_seen.add(path)
            found.append(path)
        return found


# ------------------------------------------------------------------------------------------------
# The session environment

def _core_limit() -> str:
    """ulimit -c for httpd: as large as the hard limit allows (the soft limit is often 0)."""
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    return "unlimited" if hard == resource.RLIM_INFINITY else str(hard // 1024)


class TbEnv:

    def __init__(self, verbosity: int = 0):
        self.state_dir = os.environ.get("TB_TEST_STATE_DIR") or os.path.join(REPO, "state", "pytest")
        # The MySQL client has no connect or read timeout of its own, and DBDParams cannot set
        # one: group=taskboard makes it read the [taskboard] group of $MARIADB_HOME/my.cnf (see
        # conf/taskboard.conf).  httpd inherits the variable through tests/tbctl.sh.
        client_home = os.path.join(self.state_dir, "mariadb-client")
        os.makedirs(client_home, exist_ok=True)
        os.chmod(self.state_dir, 0o755)
        os.chmod(client_home, 0o755)
        with open(os.path.join(client_home, "my.cnf"), "w") as f:
            f.write("[taskboard]\nconnect-timeout=5\nread-timeout=60\nwrite-timeout=60\n")
        os.chmod(os.path.join(client_home, "my.cnf"), 0o644)
        os.environ["MARIADB_HOME"] = client_home
        self.module = os.environ.get("TB_MODULE") or DEFAULT_MODULE
        self.db_port = free_port()
        self.verbosity = verbosity
        if verbosity >= 3:
            self.loglevel = "debug taskboard:trace8 dbd:trace4"
        elif verbosity == 2:
            self.loglevel = "debug"
        elif verbosity == 1:
            self.loglevel = "info"
        else:
            self.loglevel = "warn"
        self.current_test: Optional[str] = None
        self.httpds: List[Httpd] = []
        self.db = Db(self.db_port)
        os.makedirs(self.state_dir, exist_ok=True)
        for d in (os.path.dirname(self.state_dir), self.state_dir):
            os.chmod(d, 0o755)

    def tbctl(self, *args: str, check: bool = True, input: Optional[str] = None,
              timeout: float = 120) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        env.update(TB_STATE_DIR=self.state_dir, TB_DB_PORT=str(self.db_port), TB_DB_NAME=DB_NAME,
                   TB_DB_USER=DB_USER, TB_DB_PASS=DB_PASS, TB_MODULE=self.module,
                   # httpd may dump core (ulimit -c, up to the hard limit): a crashed child then
                   # leaves a core whose backtrace the test that saw the crash shows
                   # (Httpd.crash_reports)
                   TB_HTTPD_CORE_LIMIT=_core_limit())
        p = subprocess.run([TBCTL, *args], env=env, input=input, capture_output=True, text=True,
                           timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise RuntimeError(f"tbctl.sh {' '.join(args)} failed ({p.returncode}):\n"
                               f"{p.stdout}{p.stderr}")
        return p

    # -- the database server

    def db_start(self):
        self.tbctl("db-start")

    def db_stop(self):
        self.db.close()
        self.tbctl("db-stop")

    def db_kill(self):
        self.db.close()
        self.tbctl("db-kill")

    def db_load(self, *files: str):
        """The files into the board's database; none: sql/schema.sql and sql/sample.sql."""
        self.tbctl("db-load", *files)

    def db_load_sample(self, edges: bool = False):
        """The sample board again; with edges, sample_edges.sql on top of it."""
        self.db_load(SCHEMA_SQL, SAMPLE_SQL, *((EDGES_SQL,) if edges else ()))

    def db_running(self) -> bool:
        pidfile = os.path.join(self.state_dir, "mariadb", "mysqld.pid")
        try:
            with open(pidfile) as f:
                return pid_alive(int(f.read().strip()))
        except (OSError, ValueError):
            return False

    def stop_leftovers(self):
        """A previous run that was killed may have left servers behind in our state dir."""
        for name in sorted(os.listdir(self.state_dir)):
            pidfile = os.path.join(self.state_dir, name, "logs", "httpd.pid")
            if os.path.exists(pidfile):
                self.tbctl("httpd-stop", os.path.join(self.state_dir, name), check=False)
        self.tbctl("db-stop", check=False)

    # -- httpd instances

    def new_httpd(self, name: str) -> Httpd:
        h = Httpd(self, name)
        self.httpds.append(h)
        return h

    def stop_all(self):
        for h in self.httpds:
            try:
                h.stop()
            except Exception:
                pass


def sample_conf_path() -> str:
    return os.path.join(REPO, "conf", "taskboard.conf")


# Lines of conf/taskboard.conf that the base config already provides (server-wide settings).
RE_BASE_LINE = re.compile(
    r"^\s*(DBD\w+|LoadModule|Listen|PidFile|ErrorLog|CustomLog|LogLevel|User|Group|ServerRoot|"
    r"ServerName|DocumentRoot|DefaultRuntimeDir|TypesConfig|Include\w*)\b", re.IGNORECASE)


# For the suites that load sql/sample.sql again before each test: that puts the revision back to 1
# while httpd runs, which no real writer may do (docs/protocol.md, "The load cache"), because a load answer
# cached at revision 2 by one test would be served in the next test at its revision 2.
CACHE_OFF_CONF = """
<Location />
    TaskBoardLoadCache Off
</Location>
"""


def sample_test_conf(path: str = "") -> str:
    """conf/taskboard.conf (or another shipped configuration, path) without the lines the base
    config owns (DBD*, Listen, ...).  Test classes read it as they are defined, so a missing file
    stops the collection, naming it."""
    path = path or sample_conf_path()
    assert os.path.exists(path), f"{path} does not exist"
    with open(path) as f:
        lines = f.read().splitlines()
    out = [("# (base) " + ln) if RE_BASE_LINE.match(ln) else ln for ln in lines]
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------------
# Response checks shared by the test files

MISSING = object()
LOAD_KEYS = {"success", "type", "requestId", "revision"}


def json_body(resp: requests.Response):
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip().lower() == "application/json", (
        f"Content-Type {ctype!r}, body: {resp.text[:500]!r}")
    try:
        return jloads(resp.content.decode("utf-8"))
    except ValueError as e:
        raise AssertionError(f"response is not valid JSON ({e}): {resp.text[:500]!r}")


def describe(resp: requests.Response, n: int = 600) -> str:
    return f"{resp.request.method} {resp.url} -> {resp.status_code}: {resp.text[:n]!r}"


def compare_rows(store: Store, actual: list, expected: list, where: str = ""):
    """Row-by-row, typed comparison with a message that names the first difference."""
    assert isinstance(actual, list), f"{where}{store.id}.rows is not a list: {actual!r}"
    a_ids = [r.get("id") if isinstance(r, dict) else r for r in actual]
    e_ids = [r["id"] for r in expected]
    assert a_ids == e_ids, (f"{where}{store.id}: ids (in order) differ from the database:\n"
                            f"  got      {a_ids[:50]}{' ...' if len(a_ids) > 50 else ''}\n"
                            f"  expected {e_ids[:50]}{' ...' if len(e_ids) > 50 else ''}")
    types = {f.name: f.type for f in store.fields}
    types["id"] = "int" if store.id_kind == "auto" else "string"
    for a, e in zip(actual, expected):
        assert set(a.keys()) == set(e.keys()), (
            f"{where}{store.id} id={e['id']}: fields {sorted(a.keys())}, "
            f"expected {sorted(e.keys())}")
        for k, ev in e.items():
            assert value_matches(types[k], a[k], ev), (
                f"{where}{store.id} id={e['id']} field {k} ({types[k]}): "
                f"got {a[k]!r} ({type(a[k]).__name__}), database says {ev!r}")


def check_answer(resp: requests.Response, board: Board, db: Db, kind: str,
                 request_id=MISSING) -> dict:
    """The frame of every successful answer of the load and sync handlers: 200, a JSON object,
    success, the type `kind`, the requestId sent (when given), and the revision the database
    holds now.  Returns the parsed body."""
    assert resp.status_code == 200, describe(resp)
    body = json_body(resp)
    assert isinstance(body, dict), describe(resp)
    assert body.get("success") is True, describe(resp)
    assert body.get("type") == kind, describe(resp)
    if request_id is not MISSING:
        assert "requestId" in body, describe(resp)
        assert strict_equal(body["requestId"], request_id), (
            f"requestId {body['requestId']!r}, sent {request_id!r}")
    rev = db.revision(board)
    if rev is not None:
        assert strict_equal(body.get("revision"), int(rev)), (
            f"revision {body.get('revision')!r}, database says {rev}")
    return body


def check_load(resp: requests.Response, board: Board, db: Db, stores=None, request_id=MISSING,
               pages: Optional[Dict[str, Tuple[int, int]]] = None) -> dict:
    """Asserts a successful load response that carries exactly `stores` (default: all of the
    board), each equal to the database.  Returns the parsed body."""
    body = check_answer(resp, board, db, "load", request_id)
    want = list(board.stores) if stores is None else list(stores)
    sections = sorted(k for k in body if k not in LOAD_KEYS)
    assert sections == sorted(set(want)), f"sections {sections}, expected {sorted(set(want))}"
    pages = pages or {}
    for sid in want:
        store = board.stores[sid]
        sec = body[sid]
        assert isinstance(sec, dict) and "rows" in sec and "total" in sec, (
            f"{sid} section: {str(sec)[:300]}")
        page, size = pages.get(sid, (None, None))
        compare_rows(store, sec["rows"], db.expected_rows(store, page, size))
        assert strict_equal(sec["total"], db.count(store.table)), (
            f"{sid}.total {sec['total']!r}, table has {db.count(store.table)} rows")
    return body


def check_error(resp: requests.Response, status: int, request_id=MISSING,
                kind: str = "load") -> dict:
    """Asserts an error response of the `kind` handler: status, JSON body {success:false,
    type, message, code=status}, no database or internal text."""
    assert resp.status_code == status, describe(resp)
    body = json_body(resp)
    assert isinstance(body, dict), describe(resp)
    assert body.get("success") is False, describe(resp)
    assert strict_equal(body.get("code"), status), describe(resp)
    msg = body.get("message")
    assert isinstance(msg, str) and msg.strip(), f"no message: {describe(resp)}"
    leak = RE_LEAK.search(resp.text)
    assert leak is None, f"error response reveals internals ({leak.group(0)!r}): {resp.text!r}"
    # docs/protocol.md: errors are {"success":false,"type":"load","requestId":...,"message":...,"code":...}
    assert body.get("type") == kind, f"type missing or wrong: {describe(resp)}"
    if request_id is not MISSING:
        assert strict_equal(body.get("requestId"), request_id), (
            f"requestId not echoed in the error: {describe(resp)}")
    return body


def check_retry_after(resp: requests.Response):
    """A 503 says when to try again: Retry-After, seconds above 0 or an HTTP date."""
    v = resp.headers.get("Retry-After")
    assert v is not None, f"503 without Retry-After: {describe(resp)}"
    v = v.strip()
    if re.fullmatch(r"\d+", v):
        assert int(v) > 0, f"Retry-After: {v!r}"
    else:
        assert email.utils.parsedate_to_datetime(v) is not None, f"Retry-After: {v!r}"


# ------------------------------------------------------------------------------------------------
# Sync: requests, responses and the database before and after (test_600, test_610)

# The tables of the sample schema, for CHECKSUM TABLE comparisons; with the journal and the retry
# tables, everything a sync may write (what a refusal must leave as it was).
SAMPLE_TABLES = ("tasks", "resources", "assignments", "columns", "swimlanes", "options")
WRITTEN_TABLES = SAMPLE_TABLES + ("taskboard_journal", "taskboard_phantoms", "taskboard_requests")
# An accepted sync that changes nothing still records its answer (for an identical resend).
ALL_BUT_ANSWERS = tuple(t for t in WRITTEN_TABLES if t != "taskboard_requests")
SYNC_KEYS = {"success", "type", "requestId", "revision"}


def sync_post(httpd: Httpd, package, path: str = "/api/sync",
              ctype: str = "application/json") -> requests.Response:
    """POSTs a sync package: a dict/list (sent as JSON), or str/bytes sent unchanged."""
    if isinstance(package, (dict, list)):
        data = json.dumps(package).encode("utf-8")
    elif isinstance(package, str):
        data = package.encode("utf-8")
    else:
        data = package
    return httpd.post(path, data=data, headers={"Content-Type": ctype})


def checksums(db: Db, tables=SAMPLE_TABLES) -> Dict[str, int]:
    """CHECKSUM TABLE of each table: equal before and after means nothing was changed."""
    rows = db.query("CHECKSUM TABLE " + ", ".join(q(t) for t in tables))
    return {r[0].split(".")[-1]: r[1] for r in rows}


class Unchanged:
    """`with Unchanged(db):` asserts that the tables' checksums are the same afterwards."""

    def __init__(self, db: Db, tables=WRITTEN_TABLES):
        self.db = db
        self.tables = tables

    def __enter__(self):
        self.before = checksums(self.db, self.tables)
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            after = checksums(self.db, self.tables)
            changed = [t for t in self.tables if after[t] != self.before[t]]
            assert not changed, f"tables changed although nothing may be written: {changed}"
        return False


def board_state(db: Db, board: Board) -> Dict[str, Dict[object, dict]]:
    """Every store's rows as the load would send them, by id."""
    return {sid: {r["id"]: r for r in db.expected_rows(st)} for sid, st in board.stores.items()}


def state_diff(before: dict, after: dict) -> dict:
    """{storeId: {"added": {id: row}, "removed": {id: row}, "changed": {id: {field: (old, new)}}}}
    for the stores whose rows differ."""
    out = {}
    for sid in before:
        b, a = before[sid], after[sid]
        d = {"added": {i: a[i] for i in a if i not in b},
             "removed": {i: b[i] for i in b if i not in a},
             "changed": {}}
        for i in set(a) & set(b):
            ch = {k: (b[i][k], a[i][k]) for k in a[i] if not strict_equal(a[i][k], b[i][k])}
            if ch:
                d["changed"][i] = ch
        if d["added"] or d["removed"] or d["changed"]:
            out[sid] = d
    return out


def check_sync(resp: requests.Response, board: Board, db: Db, request_id=MISSING) -> dict:
    """Asserts a successful sync response's frame: 200, JSON, success, type, requestId, the
    revision the database holds now, and store sections that are non-empty {rows, removed}."""
    body = check_answer(resp, board, db, "sync", request_id)
    for sid in body:
        if sid in SYNC_KEYS:
            continue
        assert sid in board.stores, f"section {sid!r} for a store the board does not have"
        sec = body[sid]
        assert isinstance(sec, dict) and sec and set(sec) <= {"rows", "removed"}, (
            f"{sid} section: {str(sec)[:300]}")
        for part in sec:
            assert isinstance(sec[part], list) and sec[part], (
                f"{sid}.{part} must be a non-empty list when present: {sec[part]!r}")
    return body


def check_sync_result(body: dict, package: dict, board: Board, before: dict, after: dict,
                      phantom_field: str = "$PhantomId"):
    """The response of a successful sync against the database before and after it:
    - every added record comes back once in its store's rows, as {phantom, id, every field} equal
      to the row the database holds now, and the new rows in the database are exactly those;
    - other rows are updated records the client sent, and every field they carry is the stored one;
    - `removed` names exactly the rows that disappeared and that the client did not list itself."""
    for sid, store in board.stores.items():
        changes = package.get(sid) if isinstance(package.get(sid), dict) else {}
        added = changes.get("added") or []
        updated_ids = {r["id"] for r in changes.get("updated") or []}
        client_removed = {r["id"] for r in changes.get("removed") or []}
        sec = body.get(sid, {})
        rows, rem = sec.get("rows", []), sec.get("removed", [])
        b, a = before[sid], after[sid]
        types = {f.name: f.type for f in store.fields}
        types["id"] = "int" if store.id_kind == "auto" else "string"
        # an answer's row may repeat a field under the aliases (alias=) its record was sent with
        alias_of = {a: f.name for f in store.fields for a in f.aliases}
        sent_as = {x.get(phantom_field): x for x in added}
        sent_as.update({("id", x["id"]): x for x in changes.get("updated") or []})

        def echoed_aliases(r, sent):
            """The alias keys of row r, each checked: sent so, and equal to its field's value."""
            keys = {k for k in r if k in alias_of}
            for k in keys:
                assert k in sent, f"{sid}: {r!r} echoes {k!r}, which its record did not send"
                assert strict_equal(r[k], r.get(alias_of[k], MISSING)), (
                    f"{sid}: {r!r}: {k!r} differs from {alias_of[k]!r}")
            return keys

        by_ph = {}
        for r in rows:
            assert isinstance(r, dict) and "id" in r, f"{sid}.rows entry without id: {r!r}"
            if phantom_field in r:
                assert r[phantom_field] not in by_ph, f"{sid}: {r[phantom_field]!r} sent twice"
                by_ph[r[phantom_field]] = r
        assert set(by_ph) == {x[phantom_field] for x in added}, (
            f"{sid}: added records came back as {sorted(by_ph)}, "
            f"sent {[x[phantom_field] for x in added]}")
        for ph, r in by_ph.items():
            rid = r["id"]
            assert rid in a and rid not in b, (
                f"{sid} {ph}: id {rid!r} is not a new row of the table")
            exp = a[rid]
            r = {k: v for k, v in r.items() if k not in echoed_aliases(r, sent_as[ph])}
            assert set(r) == {phantom_field} | set(exp), (
                f"{sid} {ph}: fields {sorted(r)}, expected {sorted({phantom_field} | set(exp))}")
            for k, ev in exp.items():
                assert value_matches(types[k], r[k], ev), (
                    f"{sid} {ph} field {k}: response {r[k]!r}, database holds {ev!r}")
        new_ids = set(a) - set(b)
        assert new_ids == {r["id"] for r in by_ph.values()}, (
            f"{sid}: new rows in the table {sorted(new_ids)}, reported "
            f"{sorted(r['id'] for r in by_ph.values())}")

        seen = set()
        for r in rows:
            if phantom_field in r:
                continue
            rid = r["id"]
            assert rid not in seen, f"{sid}: id {rid!r} mentioned twice in rows"
            seen.add(rid)
            assert rid in updated_ids, f"{sid}: row {r!r} is no record the client updated"
            assert rid in a, f"{sid}: row {r!r} is not in the table"
            r = {k: v for k, v in r.items() if k not in echoed_aliases(r, sent_as[("id", rid)])}
            for k, v in r.items():
                assert k in types, f"{sid} id {rid!r}: unknown field {k!r} in rows"
                assert value_matches(types[k], v, a[rid][k]), (
                    f"{sid} id {rid!r} field {k}: response {v!r}, database holds {a[rid][k]!r}")

        for x in rem:
            assert isinstance(x, dict) and set(x) == {"id"}, f"{sid}.removed entry {x!r}"
        reported = [x["id"] for x in rem]
        assert len(reported) == len(set(reported)), f"{sid}.removed has duplicates: {reported}"
        for i in client_removed:
            assert i not in a, f"{sid}: id {i!r} was to be removed and is still there"
        gone = set(b) - set(a)
        assert set(reported) == gone - client_removed, (
            f"{sid}: removed reported {sorted(reported)}; rows that disappeared {sorted(gone)}, "
            f"of which the client listed {sorted(client_removed & gone)}")


def check_sync_error(resp: requests.Response, status: int, request_id=MISSING) -> dict:
    """check_error for the sync handler: type "sync"."""
    return check_error(resp, status, request_id, kind="sync")


def check_invalid(resp: requests.Response, expected, request_id=MISSING,
                  phantom_field: str = "$PhantomId") -> dict:
    """A 422 whose "errors" are exactly `expected`: (store, "id" or phantom_field, key, field)
    tuples, in any order, each with a message."""
    body = check_sync_error(resp, 422, request_id=request_id)
    errors = body.get("errors")
    assert isinstance(errors, list) and errors, f"422 without errors: {describe(resp)}"
    got = []
    for e in errors:
        assert isinstance(e, dict), f"errors entry {e!r}"
        keys = [k for k in ("id", phantom_field) if k in e]
        assert len(keys) == 1, f"errors entry needs one of id/{phantom_field}: {e!r}"
        assert isinstance(e.get("message"), str) and e["message"].strip(), f"no message: {e!r}"
        assert set(e) == {"store", keys[0], "field", "message"}, f"errors entry {e!r}"
        got.append((e["store"], keys[0], e[keys[0]], e["field"]))
    for g, x in zip(sorted(got, key=repr), sorted(expected, key=repr)):
        if g[1] == "id" and x[1] == "id":
            assert strict_equal(g[2], x[2]), f"id {g[2]!r} (expected {x[2]!r}) in {errors}"
    assert sorted(got, key=repr) == sorted(expected, key=repr), (
        f"422 errors:\n  got      {sorted(got, key=repr)}\n"
        f"  expected {sorted(expected, key=repr)}\n  {resp.text[:1500]}")
    return body


def column_default(db: Db, table: str, column: str):
    """The column's DEFAULT as information_schema reports it (a string, or None)."""
    v = db.scalar("SELECT COLUMN_DEFAULT FROM information_schema.COLUMNS "
                  "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND COLUMN_NAME = %s",
                  (table, column))
    if isinstance(v, (bytes, bytearray)):
        v = v.decode()
    if v is None or v == "NULL":
        return None
    return v[1:-1] if len(v) >= 2 and v[0] == v[-1] == "'" else v
