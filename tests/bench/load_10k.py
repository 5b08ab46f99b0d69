#!/usr/bin/python3
"""Load time of a 10,000-task board, against the same bytes served as a static file.

Starts its own MariaDB and httpd through tests/tbctl.sh (state in $TB_STATE_DIR, default
state/bench, on free loopback ports), generates the board with tests/bench/make_board.sh, saves
the module's answer into the DocumentRoot, then times both URLs alternately with curl over
several rounds and prints the medians.  Everything it starts is stopped by pid at the end.

    make -f Makefile.apxs bench-load          (TB_BENCH_ROUNDS=15 by default)
"""

import json
import os
import statistics
import subprocess
import sys
import urllib.parse

from benchlib import REPO, servers, tbctl

TASKS = int(os.environ.get("TB_BENCH_TASKS", "10000"))
ROUNDS = int(os.environ.get("TB_BENCH_ROUNDS", "15"))
PACKAGE = {"type": "load", "requestId": 17957455532200,
           "stores": ["tasks", "resources", "assignments"]}


def fetch_time(url):
    """Seconds curl took for the whole response (connect to last byte), and the byte count."""
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w",
                          "%{http_code} %{size_download} %{time_total}", url],
                         check=True, capture_output=True, text=True).stdout.split()
    if out[0] != "200":
        sys.exit(f"load_10k: {url} answered {out[0]}")
    return float(out[2]), int(out[1])


def make_board(env):
    tbctl(env, "db-load", os.path.join(REPO, "sql", "schema.sql"))
    board = subprocess.run([os.path.join(REPO, "tests", "bench", "make_board.sh"),
                            str(TASKS)], check=True, capture_output=True).stdout
    tbctl(env, "db-sql", stdin=board)


def main():
    with servers(make_board) as (env, root, base):
        load_url = f"{base}/api/load?data=" + urllib.parse.quote(json.dumps(PACKAGE))
        body = subprocess.run(["curl", "-sf", load_url], check=True,
                              capture_output=True).stdout
        answer = json.loads(body)
        counts = {k: len(v["rows"]) for k, v in answer.items() if isinstance(v, dict)}
        if counts.get("tasks") != TASKS:
            sys.exit(f"load_10k: expected {TASKS} tasks, got {counts}")
        with open(os.path.join(root, "htdocs", "load.json"), "wb") as f:
            f.write(body)
        static_url = f"{base}/load.json"

        module, static = [], []
        for _ in range(2):                      # warm both paths
            fetch_time(load_url)
            fetch_time(static_url)
        for _ in range(ROUNDS):
            t, n = fetch_time(load_url)
            module.append(t)
            t, n_static = fetch_time(static_url)
            static.append(t)
            if n != n_static:
                sys.exit(f"load_10k: sizes differ ({n} vs {n_static})")

        m, s = statistics.median(module), statistics.median(static)
        print(f"board: {counts['tasks']} tasks, {counts['resources']} resources, "
              f"{counts['assignments']} assignments; {len(body)} bytes; {ROUNDS} rounds "
              f"(client, httpd and MariaDB share {os.cpu_count()} cores)")
        print(f"| what | median ms | min ms | max ms |")
        print(f"|---|---|---|---|")
        print(f"| load through mod_taskboard | {m * 1000:.1f} | {min(module) * 1000:.1f} | "
              f"{max(module) * 1000:.1f} |")
        print(f"| same bytes as a static file | {s * 1000:.1f} | {min(static) * 1000:.1f} | "
              f"{max(static) * 1000:.1f} |")
        print(f"module / static time: {m / s:.2f}x")


if __name__ == "__main__":
    main()
