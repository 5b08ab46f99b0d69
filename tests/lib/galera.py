"""A MariaDB Galera cluster and HAProxy on loopback ports, for the Galera tests (test_960) and the
Galera benchmark.

Both are started from the deployment example in conf/galera/ (galera.cnf, nodeN.cnf, haproxy.cfg,
galera-check.sh): only addresses, ports, paths and sizes are replaced, so that the tests prove the
files a reader copies.  Everything runs as root; processes are stopped by their own pids, never by
name.  docs/galera.md and /work/shared/PLATFORM.md section 7 explain the flags.

    c = Cluster(state_dir)          # state_dir/galera/n1 .. n3: data, config, error.log
    c.start()                       # node 1 bootstraps, 2 and 3 join by rsync SST; all Synced
    c.port(1)                       # SQL port of node 1
    c.kill(1); c.restart(1)         # SIGKILL, then rejoin (IST or SST) and wait until Synced
    c.isolate(3); c.unisolate(3)    # gmcast.isolate: non-Primary, then back
    c.query(2, "SELECT ..."); c.checksum(2, ["tasks"]); c.load_sql(1, "sql/schema.sql")
    h = Haproxy(state_dir, c); h.start(); h.port; h.writer(); h.stop()
    c.stop()
"""

import configparser
import csv
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

import pymysql

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import tbtest  # noqa: E402  (free_port, the board's database name, user and password)

CONF_DIR = os.path.join(REPO, "conf", "galera")
MARIADBD = "/usr/sbin/mariadbd"
HAPROXY = "/usr/sbin/haproxy"
# The user of the HAProxy health check (conf/galera/galera-check.sh): no privilege, no password.
CHECK_USER = "haproxy_check"
# wsrep_local_state 4: Synced, the one state in which a node serves the board.
SYNCED = "4"


class GaleraError(RuntimeError):
    pass


def _pid_alive(pid: int) -> bool:
    return tbtest.pid_alive(pid)


def _wait(fn, timeout: float, what: str, interval: float = 0.2, on_fail=None):
    """Calls fn() until it returns a true value; raises GaleraError with what (and on_fail()'s
    text: the logs) after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
        except GaleraError:
            raise
        except Exception as e:             # a node still starting refuses connections
            last = e
        if last and not isinstance(last, Exception):
            return last
        if time.monotonic() >= deadline:
            extra = on_fail() if on_fail else ""
            raise GaleraError(f"{what}: not reached within {timeout} s (last: {last!r})\n{extra}")
        time.sleep(interval)


def _tail(path: str, n: int = 40, since: int = 0) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(since)
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return f"(no {path})"
    return f"---- {path} (last {n} lines) ----\n" + "\n".join(lines[-n:]) + "\n----"


def _chown_tree(path: str, user: str = "nobody", group: str = "nogroup"):
    """As root the rsync SST receives as `nobody`: a joiner's datadir must belong to it."""
    subprocess.run(["chown", "-R", f"{user}:{group}", path], check=True, timeout=60)


def _read_cnf(path: str) -> List[tuple]:
    """(section, key, value) of an option file, quotes removed, in file order."""
    cp = configparser.ConfigParser(allow_no_value=True, strict=False, interpolation=None,
                                   inline_comment_prefixes=None)
    cp.optionxform = str
    with open(path) as f:
        cp.read_file(f)
    out = []
    for section in cp.sections():
        for key, value in cp.items(section, raw=True):
            if value is not None:
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                    value = value[1:-1]
            out.append((section, key.replace("-", "_"), value))
    return out


def provider_options(text: str) -> Dict[str, str]:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        k, _, v = part.partition("=")
        out[k.strip()] = v.strip()
    return out


class Node:

    def __init__(self, cluster: "Cluster", idx: int):
        self.cluster = cluster
        self.idx = idx
        self.dir = os.path.join(cluster.dir, f"n{idx}")
        self.datadir = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "mysqld.sock")
        self.pidfile = os.path.join(self.dir, "mysqld.pid")
        self.log = os.path.join(self.dir, "error.log")
        self.cnf = os.path.join(self.dir, "my.cnf")
        self.port = tbtest.free_port()
        self.gcomm_port = tbtest.free_port()
        self.ist_port = tbtest.free_port()
        self.sst_port = tbtest.free_port()
        self.proc: Optional[subprocess.Popen] = None
        self.pid: Optional[int] = None
        self.log_pos = 0

    @property
    def gcomm(self) -> str:
        return f"127.0.0.1:{self.gcomm_port}"

    def write_cnf(self):
        """my.cnf of this node: conf/galera/galera.cnf and nodeN.cnf, with this machine's
        loopback addresses, ports, paths and small sizes in place of the example's."""
        opts = {}
        for name in ("galera.cnf", f"node{self.idx}.cnf"):
            for _, key, value in _read_cnf(os.path.join(CONF_DIR, name)):
                opts[key] = value
        for required in ("wsrep_on", "wsrep_provider", "wsrep_cluster_address",
                         "wsrep_sst_method", "binlog_format", "innodb_autoinc_lock_mode",
                         "wsrep_node_address", "wsrep_node_name"):
            if required not in opts:
                raise GaleraError(f"conf/galera: {required} is not set")
        popts = provider_options(opts.get("wsrep_provider_options", ""))
        popts.update({"base_port": str(self.gcomm_port),
                      "ist.recv_addr": f"127.0.0.1:{self.ist_port}",
                      "gcache.size": "64M"})
        opts.update({
            "wsrep_cluster_address": "gcomm://" + ",".join(n.gcomm for n in self.cluster.nodes),
            "wsrep_node_address": self.gcomm,
            "wsrep_sst_receive_address": f"127.0.0.1:{self.sst_port}",
            "wsrep_provider_options": ";".join(f"{k}={v}" for k, v in popts.items()),
            "bind_address": "127.0.0.1",
            "port": str(self.port),
            "socket": self.sock,
            "pid_file": self.pidfile,
            "datadir": self.datadir,
            "log_error": self.log,
            "tmpdir": os.path.join(self.dir, "tmp"),
            "skip_name_resolve": "1",
            "innodb_buffer_pool_size": "64M",
            # smaller redo log: less for the rsync SST to copy
            "innodb_log_file_size": "32M",
        })
        with open(self.cnf, "w") as f:
            f.write(f"# generated by tests/lib/galera.py from {CONF_DIR}/galera.cnf and "
                    f"node{self.idx}.cnf\n[mariadbd]\n")
            for k, v in opts.items():
                if v is None:
                    f.write(f"{k}\n")
                elif re.search(r"[;#\s]", v):
                    f.write(f'{k} = "{v}"\n')
                else:
                    f.write(f"{k} = {v}\n")
        os.chmod(self.cnf, 0o644)

    # -- processes

    def running(self) -> bool:
        return self.pid is not None and _pid_alive(self.pid)

    def logs(self) -> str:
        out = [_tail(self.log, since=self.log_pos)]
        for extra in ("stdout.log", os.path.join("data", "rsync_sst.log")):
            p = os.path.join(self.dir, extra)
            if os.path.exists(p):
                out.append(_tail(p, 15))
        return "\n".join(out)

    def recovered_position(self) -> Optional[str]:
        """After a crash: the last committed position from InnoDB (mariadbd --wsrep-recover),
        so that the node asks for an incremental transfer (IST) instead of a full copy."""
        pos = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        subprocess.run([MARIADBD, f"--defaults-file={self.cnf}", "--user=root", "--wsrep-recover",
                        "--log-error=" + self.log], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        with open(self.log, "rb") as f:
            f.seek(pos)
            m = re.findall(rb"WSREP: Recovered position:\s*(\S+:-?\d+)", f.read())
        return m[-1].decode() if m else None

    def launch(self, new_cluster: bool = False, start_position: Optional[str] = None):
        if self.running():
            raise GaleraError(f"node {self.idx} runs already (pid {self.pid})")
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        for p in (self.pidfile, self.sock):
            if os.path.exists(p):
                os.remove(p)
        self.log_pos = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        args = [MARIADBD, f"--defaults-file={self.cnf}", "--user=root"]
        if new_cluster:
            args.append("--wsrep-new-cluster")
        if start_position:
            args.append(f"--wsrep-start-position={start_position}")
        with open(os.path.join(self.dir, "stdout.log"), "ab") as out:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                         start_new_session=True)
        self.pid = self.proc.pid

    def connect(self, timeout: float = 5):
        return pymysql.connect(unix_socket=self.sock, user="root", password="", autocommit=True,
                               connect_timeout=timeout, read_timeout=60, write_timeout=60,
                               charset="utf8mb4")

    def query(self, sql: str, args=None) -> List[tuple]:
        c = self.connect()
        try:
            with c.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        finally:
            c.close()

    def status(self) -> Dict[str, str]:
        return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in self.query(
            "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state', "
            "'wsrep_cluster_size', 'wsrep_cluster_status', 'wsrep_ready', "
            "'wsrep_local_state_comment', 'wsrep_last_committed')")}

    def check_alive(self, what: str):
        if not self.running():
            rc = self.proc.poll() if self.proc else None
            raise GaleraError(f"node {self.idx}: mariadbd exited (status {rc}) during {what}\n"
                              + self.logs())

    def wait_synced(self, size: int, timeout: float, what: str):
        def ready():
            self.check_alive(what)
            st = self.status()
            return (st.get("wsrep_local_state") == SYNCED
                    and st.get("wsrep_cluster_status") == "Primary"
                    and st.get("wsrep_cluster_size") == str(size)) and st
        return _wait(ready, timeout, f"node {self.idx} Synced in a cluster of {size} ({what})",
                     on_fail=self.logs)

    def kill(self):
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._reap(10)

    def terminate(self, timeout: float = 60):
        if not self.running():
            self._reap(1)
            return
        os.kill(self.pid, signal.SIGTERM)
        try:
            self._reap(timeout)
        except GaleraError:
            os.kill(self.pid, signal.SIGKILL)
            self._reap(10)

    def _reap(self, timeout: float):
        deadline = time.monotonic() + timeout
        while self.pid is not None and _pid_alive(self.pid):
            if self.proc is not None:
                try:
                    self.proc.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    pass
            else:
                time.sleep(0.1)
            if time.monotonic() > deadline:
                raise GaleraError(f"node {self.idx} (pid {self.pid}) still running after "
                                  f"{timeout} s")
        if self.proc is not None:
            self.proc.poll()
        self.pid = None
        self.proc = None


class Cluster:
    """nodes MariaDB Galera nodes under state_dir/galera (removed and made again by start())."""

    def __init__(self, state_dir: str, nodes: int = 3):
        self.dir = os.path.join(os.path.abspath(state_dir), "galera")
        self.nodes = [Node(self, i) for i in range(1, nodes + 1)]
        self.started = False

    def node(self, i: int) -> Node:
        if not 1 <= i <= len(self.nodes):
            raise IndexError(f"no node {i} (1..{len(self.nodes)})")
        return self.nodes[i - 1]

    def port(self, i: int) -> int:
        return self.node(i).port

    # -- start and stop

    def _stop_leftovers(self):
        """mariadbd of an earlier run killed before its stop(): by its pid file, when that pid
        is a mariadbd."""
        if not os.path.isdir(self.dir):
            return
        for name in sorted(os.listdir(self.dir)):
            pidfile = os.path.join(self.dir, name, "mysqld.pid")
            try:
                pid = int(open(pidfile).read().strip())
                comm = open(f"/proc/{pid}/comm").read().strip()
            except (OSError, ValueError):
                continue
            if comm == "mariadbd" and _pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
                _wait(lambda: not _pid_alive(pid), 20, f"leftover mariadbd {pid} gone")

    def start(self, timeout: float = 240):
        self._stop_leftovers()
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        # the SST's rsync runs as nobody: every folder above the datadirs must be searchable
        d = self.dir
        while d != "/":
            os.chmod(d, os.stat(d).st_mode | 0o005)
            d = os.path.dirname(d)
        for n in self.nodes:
            os.makedirs(n.dir)
            os.chmod(n.dir, 0o755)
            n.write_cnf()
        first = self.nodes[0]
        p = subprocess.run(["mariadb-install-db", "--no-defaults", "--user=root",
                            f"--datadir={first.datadir}",
                            "--auth-root-authentication-method=normal", "--skip-test-db"],
                           capture_output=True, text=True, timeout=180)
        if p.returncode != 0:
            raise GaleraError(f"mariadb-install-db failed:\n{p.stdout}{p.stderr}")
        self.started = True
        first.launch(new_cluster=True)
        first.wait_synced(1, timeout, "bootstrap")
        self._create_users(first)
        for n in self.nodes[1:]:
            os.makedirs(n.datadir)
            _chown_tree(n.datadir)
            n.launch()
            n.wait_synced(len(self.nodes) if n is self.nodes[-1] else n.idx, timeout,
                          "join with SST")
        self.wait_all_synced(timeout)

    def _create_users(self, node: Node):
        """The board's database and user as tests/tbctl.sh makes them for the single server
        (so sql/*.sql load unchanged), and the HAProxy check user; replicated to the joiners."""
        db, user, pw = tbtest.DB_NAME, tbtest.DB_USER, tbtest.DB_PASS
        for sql in (
                f"CREATE DATABASE IF NOT EXISTS `{db}` CHARACTER SET utf8mb4 "
                f"COLLATE utf8mb4_unicode_ci",
                f"CREATE USER IF NOT EXISTS '{user}'@'127.0.0.1' IDENTIFIED BY '{pw}'",
                f"CREATE USER IF NOT EXISTS '{user}'@'localhost' IDENTIFIED BY '{pw}'",
                f"GRANT ALL PRIVILEGES ON `{db}`.* TO '{user}'@'127.0.0.1'",
                f"GRANT ALL PRIVILEGES ON `{db}`.* TO '{user}'@'localhost'",
                # conf/galera/galera-check.sh: log in and read the server status, nothing else
                f"CREATE USER IF NOT EXISTS '{CHECK_USER}'@'127.0.0.1'",
                f"GRANT USAGE ON *.* TO '{CHECK_USER}'@'127.0.0.1'"):
            node.query(sql)

    def wait_all_synced(self, timeout: float = 120):
        """Every running node Synced in a Primary cluster of all running nodes."""
        up = [n for n in self.nodes if n.running()]
        for n in up:
            n.wait_synced(len(up), timeout, "cluster settles")

    def settle(self, timeout: float = 120):
        """Every running node Synced and at the same wsrep_last_committed: what one node
        committed, all have applied (for comparing their tables)."""
        self.wait_all_synced(timeout)
        up = [n for n in self.nodes if n.running()]

        def same():
            seen = {n.status().get("wsrep_last_committed") for n in up}
            return len(seen) == 1 and seen.pop()
        _wait(same, timeout, "every node at the same wsrep_last_committed", on_fail=self.logs)

    def stop(self):
        """Every node by its pid (SIGTERM, then SIGKILL after 60 s); the last started last."""
        errors = []
        for n in reversed(self.nodes):
            try:
                n.terminate()
            except Exception as e:
                errors.append(f"node {n.idx}: {e}")
        if errors:
            raise GaleraError("; ".join(errors))

    # -- faults

    def kill(self, i: int):
        """SIGKILL, as a crash or a power loss (the others notice only after
        evs.suspect_timeout)."""
        self.node(i).kill()

    def restart(self, i: int, timeout: float = 240):
        """Starts a stopped or killed node again: it rejoins the running ones (IST when their
        gcache still holds what it missed, else a full SST) and is waited for until Synced."""
        n = self.node(i)
        if n.running():
            raise GaleraError(f"node {i} is running")
        _chown_tree(n.datadir)
        position = n.recovered_position()
        _chown_tree(n.datadir)
        n.launch(start_position=position)
        self.wait_all_synced(timeout)

    def isolate(self, i: int, timeout: float = 60):
        """Cuts node i off from the others (gmcast.isolate=1): it turns non-Primary and answers
        error 1047; the others go on as a cluster of one node less."""
        n = self.node(i)
        n.query("SET GLOBAL wsrep_provider_options = 'gmcast.isolate=1'")
        _wait(lambda: n.status().get("wsrep_cluster_status") != "Primary", timeout,
              f"node {i} non-Primary", on_fail=n.logs)
        others = [m for m in self.nodes if m is not n and m.running()]
        for m in others:
            m.wait_synced(len(others), timeout, f"node {i} isolated")

    def unisolate(self, i: int, timeout: float = 120):
        self.node(i).query("SET GLOBAL wsrep_provider_options = 'gmcast.isolate=0'")
        self.wait_all_synced(timeout)

    # -- SQL

    def query(self, i: int, sql: str, args=None) -> List[tuple]:
        """sql as root on node i (no database selected)."""
        return self.node(i).query(sql, args)

    def status(self, i: int) -> Dict[str, str]:
        return self.node(i).status()

    def checksum(self, i: int, tables: Sequence[str]) -> Dict[str, int]:
        """CHECKSUM TABLE of the board's tables on node i."""
        names = ", ".join(f"`{tbtest.DB_NAME}`.`{t}`" for t in tables)
        return {name.split(".", 1)[1]: value
                for name, value in self.node(i).query(f"CHECKSUM TABLE {names}")}

    def load_sql(self, i: int, *files: str):
        """The files into the board's database through node i (the mariadb client, as tbctl.sh
        db-load does)."""
        for path in files:
            with open(path, "rb") as f:
                p = subprocess.run(["mariadb", "--no-defaults", f"--socket={self.node(i).sock}",
                                    "-uroot", "--default-character-set=utf8mb4",
                                    f"--database={tbtest.DB_NAME}"], stdin=f,
                                   capture_output=True, timeout=300)
            if p.returncode != 0:
                raise GaleraError(f"loading {path} into node {i} failed: "
                                  f"{p.stderr.decode(errors='replace')}")

    def logs(self) -> str:
        return "\n".join(f"node {n.idx}:\n{n.logs()}" for n in self.nodes)


class Haproxy:
    """HAProxy in front of cluster, from conf/galera/haproxy.cfg (addresses, ports, paths
    replaced), its state and log under state_dir/haproxy."""

    def __init__(self, state_dir: str, cluster: Cluster):
        self.cluster = cluster
        self.dir = os.path.join(os.path.abspath(state_dir), "haproxy")
        self.cfg = os.path.join(self.dir, "haproxy.cfg")
        self.sock = os.path.join(self.dir, "admin.sock")
        self.log = os.path.join(self.dir, "haproxy.log")
        self.port = tbtest.free_port()
        self.proc: Optional[subprocess.Popen] = None

    def render(self) -> str:
        with open(os.path.join(CONF_DIR, "haproxy.cfg")) as f:
            text = f.read()

        def sub(pattern, repl, count=1):
            nonlocal text
            text, n = re.subn(pattern, repl, text, flags=re.M)
            if n != count:
                raise GaleraError(f"conf/galera/haproxy.cfg: {pattern!r} found {n} times, "
                                  f"expected {count}")
        sub(r"^(\s*stats socket )\S+", lambda m: m.group(1) + self.sock)
        # no syslog here: the log goes to stderr, which is haproxy.log
        sub(r"^(\s*)log /dev/log .*$", lambda m: m.group(1) + "log stderr format raw local0 info")
        sub(r"^(\s*bind )\S+", lambda m: f"{m.group(1)}127.0.0.1:{self.port}")
        sub(r"^(\s*external-check command )\S+",
            lambda m: m.group(1) + os.path.join(CONF_DIR, "galera-check.sh"))
        for n in self.cluster.nodes:
            sub(rf"^(\s*server node{n.idx} )\S+", lambda m, n=n: f"{m.group(1)}127.0.0.1:{n.port}")
        return text

    def start(self, timeout: float = 60):
        os.makedirs(self.dir, exist_ok=True)
        with open(self.cfg, "w") as f:
            f.write(self.render())
        p = subprocess.run([HAPROXY, "-c", "-f", self.cfg], capture_output=True, text=True,
                           timeout=30)
        if p.returncode != 0:
            raise GaleraError(f"haproxy -c -f {self.cfg}: {p.stdout}{p.stderr}")
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.cfg],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                         start_new_session=True)

        def ready():
            if self.proc.poll() is not None:
                raise GaleraError(f"haproxy exited ({self.proc.returncode})\n"
                                  + _tail(self.log))
            return self.writer() == 1 and all(self.server_states().get(f"node{n.idx}") == "UP"
                                              for n in self.cluster.nodes if n.running())
        _wait(ready, timeout, "haproxy: node1 takes the writes, every node UP",
              on_fail=lambda: _tail(self.log))

    def admin(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(self.sock)
            s.sendall(command.encode() + b"\n")
            chunks = []
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        return b"".join(chunks).decode()

    def servers(self) -> List[dict]:
        """The backend's servers in config order: {name, status, backup}."""
        text = self.admin("show stat").lstrip("# ")
        out = []
        for row in csv.DictReader(io.StringIO(text)):
            if row.get("pxname") == "galera" and row.get("svname", "").startswith("node"):
                out.append({"name": row["svname"], "status": row["status"],
                            "backup": row.get("bck") == "1"})
        return out

    def server_states(self) -> Dict[str, str]:
        return {s["name"]: s["status"] for s in self.servers()}

    def writer(self) -> Optional[int]:
        """The node HAProxy sends new connections to now: the first active server that is UP,
        else the first backup that is UP (HAProxy uses one backup, in config order)."""
        servers = self.servers()
        for backup in (False, True):
            for s in servers:
                if s["backup"] == backup and s["status"].startswith("UP"):
                    return int(s["name"][4:])
        return None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def logs(self) -> str:
        return _tail(self.log)
