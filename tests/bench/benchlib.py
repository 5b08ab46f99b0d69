"""What the benchmarks share: their own MariaDB and httpd through tests/tbctl.sh, on free
loopback ports, stopped by pid however the run ends; the database's statement counters, the
revision writer, wrk, and the httpd children's memory."""

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TBCTL = os.path.join(REPO, "tests", "tbctl.sh")
# what the integration tests share with the benchmarks (sse, procfs)
sys.path.insert(1, os.path.join(REPO, "tests", "lib"))

import procfs  # noqa: E402


# ---------------------------------------------------------------------------------------------
# settings and results.md, for every bench script

def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def env_list(name: str, default: str) -> list:
    return [v.strip() for v in os.environ.get(name, default).split(",") if v.strip()]


def error_log_end(root: str) -> int:
    """Where httpd's error log ends now: error_log_since(root, this) later gives what was logged
    meanwhile."""
    with open(os.path.join(root, "logs", "error_log"), "rb") as f:
        return f.seek(0, os.SEEK_END)


def error_log_since(root: str, start: int) -> list:
    """The lines httpd's error log got since byte start at warn or above, and crashed
    children (logged as notices)."""
    with open(os.path.join(root, "logs", "error_log"), errors="replace") as f:
        f.seek(start)
        return [line.rstrip() for line in f
                if re.search(r":(warn|error|crit|alert|emerg)\]|exit signal", line)]


def section_end(log: list, failure, what: str) -> list:
    """The last lines of a section of results.md: the error log's lines of the run (the first
    ones) and, when `what` failed, why."""
    lines = []
    if log:
        lines += ["", f"httpd error_log: {len(log)} lines at warn or above (or crashed "
                  "children) during the run, the first ones:", "", "```", *log[:8], "```"]
    if failure:
        lines += ["", f"**{what} failed**: {failure}"]
    return lines


def quiesce(access_log: str):
    """Waits until httpd's access log has not grown for 200 ms: the requests that were under
    way when wrk stopped are finished."""
    last, still = os.path.getsize(access_log), 0
    while still < 4:
        time.sleep(0.05)
        now = os.path.getsize(access_log)
        still = still + 1 if now == last else 0
        last = now


def save_section(state: str, title: str, text: str) -> str:
    """Puts text into results.md in place of an earlier "## title" section, or after what is
    there (bench.py's report, the other scripts' sections)."""
    path = os.path.join(state, "results.md")
    try:
        with open(path) as f:
            old = f.read()
    except FileNotFoundError:
        old = "# mod_taskboard benchmark\n\n(the other sections: make -f Makefile.apxs bench)\n"
    old = re.sub(rf"(?ms)^## {re.escape(title)}\n.*?(?=^#{{1,2}} (?!#)|\Z)", "",
                 old).rstrip("\n")
    with open(path, "w") as f:
        f.write(old + "\n\n" + text)
    return path


def where(env, base: str) -> str:
    """The servers of a run, for its first progress line."""
    return f"httpd {base}, MariaDB 127.0.0.1:{env['TB_DB_PORT']}, state {env['TB_STATE_DIR']}"


def finish(name: str, text: str, path: str, failure) -> int:
    """Prints a bench script's section and where it went; the exit status: 1 if it failed."""
    print(text)
    print(f"written to {path}")
    if failure:
        print(f"{name}: FAILED: {failure}", file=sys.stderr)
        return 1
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tbctl(env, *args, stdin=None):
    subprocess.run([TBCTL, *args], env=env, input=stdin, check=True,
                   stdout=subprocess.DEVNULL)


def db_socket(env) -> str:
    """The unix socket of the private MariaDB (root connects through it without a password)."""
    return os.path.join(env["TB_STATE_DIR"], "mariadb", "mysqld.sock")


def client_options(env):
    """Writes the [taskboard] option group that DBDParams' group=taskboard makes the MySQL client
    of httpd read (connect and read timeouts, as tbctl.sh start does) and points MARIADB_HOME
    at it."""
    home = os.path.join(env["TB_STATE_DIR"], "mariadb-client")
    os.makedirs(home, exist_ok=True)
    os.chmod(home, 0o755)
    path = os.path.join(home, "my.cnf")
    with open(path, "w") as f:
        f.write("[taskboard]\nconnect-timeout=5\nread-timeout=60\nwrite-timeout=60\n")
    os.chmod(path, 0o644)
    env["MARIADB_HOME"] = home


def add_bench_conf(root: str, bench_conf: str):
    """Keeps the rendered demo configuration as conf/demo.conf and makes conf/httpd.conf include
    it, followed by bench_conf (tbctl.sh httpd-start always reads conf/httpd.conf)."""
    conf_dir = os.path.join(root, "conf")
    os.replace(os.path.join(conf_dir, "httpd.conf"), os.path.join(conf_dir, "demo.conf"))
    with open(os.path.join(conf_dir, "httpd.conf"), "w") as f:
        f.write("# generated by tests/bench: the demo configuration, then the benchmark's own\n")
        f.write(f'Include "{conf_dir}/demo.conf"\n\n{bench_conf}\n')


@contextlib.contextmanager
def servers(prepare_db, bench_conf=""):
    """Starts MariaDB (state in $TB_STATE_DIR, default state/bench), calls prepare_db(env) to
    load it, renders the demo configuration (plus bench_conf, appended after it; a function of
    the server root or a string) and starts httpd; yields (env, server root, base URL) and stops
    both at the end."""
    env = dict(os.environ)
    env.setdefault("TB_STATE_DIR", os.path.join(REPO, "state", "bench"))
    env["TB_STATE_DIR"] = os.path.abspath(env["TB_STATE_DIR"])
    env["TB_HTTP_PORT"] = str(free_port())
    env["TB_DB_PORT"] = str(free_port())
    root = os.path.join(env["TB_STATE_DIR"], "httpd")
    started = []
    try:
        tbctl(env, "db-start")
        started.append("db")
        prepare_db(env)
        tbctl(env, "render-demo")
        if callable(bench_conf):
            bench_conf = bench_conf(root)
        if bench_conf:
            add_bench_conf(root, bench_conf)
        client_options(env)
        tbctl(env, "httpd-start", root, f"http://127.0.0.1:{env['TB_HTTP_PORT']}/")
        started.append("httpd")
        yield env, root, f"http://127.0.0.1:{env['TB_HTTP_PORT']}"
    finally:
        if "httpd" in started:
            tbctl(env, "httpd-stop", root)
        if "db" in started:
            tbctl(env, "db-stop")


# ---------------------------------------------------------------------------------------------
# measuring

class BenchError(Exception):
    """A benchmark run went wrong (an error answer, a wrong result): the bench stops with it."""


def db_name(env) -> str:
    return env.get("TB_DB_NAME", "taskboard")


class Db:
    """A root connection to the private MariaDB over its socket (pymysql, autocommit)."""

    # Com_admin_commands counts COM_PING, which mod_dbd sends on every connection it hands
    # out; MariaDB does not count pings and prepares as Questions
    COUNTERS = ("Questions", "Com_stmt_prepare", "Com_stmt_close", "Com_admin_commands")

    def __init__(self, env):
        import pymysql                  # only the benchmarks need it
        self.conn = pymysql.connect(unix_socket=db_socket(env), user="root",
                                    database=db_name(env), autocommit=True, charset="utf8mb4")

    def rows(self, sql: str, args=None):
        with self.conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()

    def value(self, sql: str, args=None):
        rows = self.rows(sql, args)
        return rows[0][0] if rows else None

    def revision(self) -> int:
        return int(self.value("SELECT `value` FROM `options` WHERE `name` = 'revision'"))

    def counters(self) -> dict:
        """The server's statement counters (SHOW GLOBAL STATUS counts itself as one Question)."""
        names = ",".join(f"'{n}'" for n in self.COUNTERS)
        return {k: int(v) for k, v in
                self.rows(f"SHOW GLOBAL STATUS WHERE Variable_name IN ({names})")}

    def close(self):
        self.conn.close()


class RevisionWriter:
    """While its with block runs, a thread with a connection of its own raises the board's
    revision (UPDATE options SET value = value + 1 WHERE name = 'revision') in a tight
    autocommit loop; .count is the number of UPDATEs so far."""

    def __init__(self, env):
        self.env = env
        self.count = 0
        self.error = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            db = Db(self.env)
            with db.conn.cursor() as cur:
                while not self._stop.is_set():
                    cur.execute("UPDATE `options` SET `value` = `value` + 1 "
                                "WHERE `name` = 'revision'")
                    self.count += 1
            db.close()
        except Exception as e:          # reported by __exit__, in the main thread
            self.error = e

    def __enter__(self):
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.rate = self.count / (time.monotonic() - self._started)
        if self.error and not exc[0]:
            raise BenchError(f"the revision writer failed: {self.error}")


def parse_tb_line(output: str) -> dict:
    """The key=value pairs of the "TB ..." line that wrkreport.lua and sync_direct print."""
    for line in output.splitlines():
        if line.startswith("TB "):
            return {k: float(v) for k, v in (kv.split("=", 1) for kv in line.split()[1:])}
    raise BenchError(f"no TB line in:\n{output}")


def run_client(cmd, env=None) -> dict:
    """Runs a load generator (with env, when given, as its environment); returns its TB line,
    or raises BenchError with its output."""
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} failed (exit {p.returncode}):\n{p.stdout}{p.stderr}")
    tb = parse_tb_line(p.stdout)
    tb["output"] = p.stdout + p.stderr
    return tb


def wrk(url: str, script: str, args, connections: int, seconds: int, headers=(),
        prefix=(), env=None) -> dict:
    """One wrk run (threads: 1 or 2) with script and its args; the figures of its TB line.
    Raises BenchError on a non-2xx answer, a timeout, or socket errors on more than 5% of the
    requests.  Fewer are kept as tb["socket_errors"]: the event MPM closes idle keep-alive
    connections when its workers run short (c=32 against 25 threads per child, on the module's
    side and the static file's alike), and a request that wrk sends on such a connection at
    that moment ends in a read error (0.1 to 1% of the requests at c=32 here)."""
    cmd = [*prefix, "wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s",
           "--timeout", "60s", "-s", script]
    for h in headers:
        cmd += ["-H", h]
    tb = run_client(cmd + [url, "--", *map(str, args)], env)
    errors = {k: int(tb[k]) for k in ("connect", "read", "write", "status", "timeout") if tb[k]}
    tb["socket_errors"] = sum(errors.get(k, 0) for k in ("connect", "read", "write"))
    if "status" in errors or "timeout" in errors or tb["socket_errors"] > 0.05 * tb["requests"]:
        what = "Non-2xx answers" if "status" in errors else "errors"
        raise BenchError(f"wrk {url} {' '.join(map(str, args))}: {what} {errors}\n{tb['output']}")
    if tb["requests"] == 0:
        raise BenchError(f"wrk {url}: no request completed\n{tb['output']}")
    return tb


# ---------------------------------------------------------------------------------------------
# httpd's memory

def httpd_children(root: str):
    """The pids of the httpd children (the processes whose parent is the pid in httpd.pid)."""
    with open(os.path.join(root, "logs", "httpd.pid")) as f:
        return sorted(procfs.children(int(f.read().strip())))


def reset_peak(pid: int):
    """Resets VmHWM to the current VmRSS (Linux >= 4.0, as root)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


class MemoryPeak:
    """While its with block runs: the peak RSS of each httpd child, from VmHWM (reset at the
    start) and from VmRSS sampled every 50 ms; .after is VmRSS at the end.  .above_idle(idle,
    peaks) gives peaks minus the idle RSS, summed over the children, in KiB."""

    def __init__(self, root: str):
        self.root = root
        self.sampled = {}
        self.hwm = {}
        self.first = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for pid in httpd_children(self.root):
                rss = procfs.vm_kib(pid, "VmRSS")
                self.first.setdefault(pid, rss)
                self.sampled[pid] = max(self.sampled.get(pid, 0), rss)
            self._stop.wait(0.05)

    def __enter__(self):
        for pid in httpd_children(self.root):
            reset_peak(pid)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.hwm = {pid: procfs.vm_kib(pid, "VmHWM") for pid in self.sampled}
        self.after = {pid: procfs.vm_kib(pid, "VmRSS") for pid in self.sampled}

    def above_idle(self, idle: dict, peaks: dict) -> int:
        """Sum over the children of peak - idle (a child started meanwhile counts from its
        first sample)."""
        return sum(max(0, peak - idle.get(pid, self.first.get(pid, peak)))
                   for pid, peak in peaks.items())


def idle_rss(root: str) -> dict:
    return {pid: procfs.vm_kib(pid, "VmRSS") for pid in httpd_children(root)}
