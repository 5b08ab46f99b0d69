"""What the benchmarks share: their own MariaDB and httpd through tests/tbctl.sh, on free
loopback ports, stopped by pid however the run ends."""

import contextlib
import os
import socket
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TBCTL = os.path.join(REPO, "tests", "tbctl.sh")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tbctl(env, *args, stdin=None):
    subprocess.run([TBCTL, *args], env=env, input=stdin, check=True,
                   stdout=subprocess.DEVNULL)


def db_value(env, sql: str) -> str:
    return subprocess.run([TBCTL, "db-sql", "-N", "-e", sql], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


@contextlib.contextmanager
def servers(prepare_db):
    """Starts MariaDB (state in $TB_STATE_DIR, default state/bench), calls prepare_db(env) to
    load it, renders the demo configuration and starts httpd; yields (env, server root, base URL)
    and stops both at the end."""
    env = dict(os.environ)
    env.setdefault("TB_STATE_DIR", os.path.join(REPO, "state", "bench"))
    env["TB_HTTP_PORT"] = str(free_port())
    env["TB_DB_PORT"] = str(free_port())
    root = os.path.join(env["TB_STATE_DIR"], "httpd")
    started = []
    try:
        tbctl(env, "db-start")
        started.append("db")
        prepare_db(env)
        tbctl(env, "render-demo")
        tbctl(env, "httpd-start", root)
        started.append("httpd")
        yield env, root, f"http://127.0.0.1:{env['TB_HTTP_PORT']}"
    finally:
        if "httpd" in started:
            tbctl(env, "httpd-stop", root)
        if "db" in started:
            tbctl(env, "db-stop")
