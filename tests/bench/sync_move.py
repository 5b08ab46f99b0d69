#!/usr/bin/python3
"""Throughput of a single-card-move sync, against the same httpd serving a small static file.

Starts its own MariaDB and httpd through tests/tbctl.sh (state in $TB_STATE_DIR, default
state/bench, free loopback ports), loads the sample board, and runs wrk (sync_move.lua: one
status change per request, the revision raised every time) and a static 2 KiB file alternately,
TB_BENCH_ROUNDS times (default 5) for TB_BENCH_SECONDS each (default 5) at TB_BENCH_CONNECTIONS
connections (default 8).  Prints medians.  Client, httpd and MariaDB share the machine's cores.

    make -f Makefile.apxs bench-sync
"""

import os
import re
import statistics
import subprocess
import sys

from benchlib import REPO, db_value, servers, tbctl

ROUNDS = int(os.environ.get("TB_BENCH_ROUNDS", "5"))
SECONDS = int(os.environ.get("TB_BENCH_SECONDS", "5"))
CONNECTIONS = int(os.environ.get("TB_BENCH_CONNECTIONS", "8"))


def wrk(url, script=None):
    """Requests per second and the p50/p99 latency in ms of one wrk run."""
    cmd = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in out:
        sys.exit(f"sync_move: wrk saw errors:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label):
        v, unit = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    return rps, ms("50"), ms("99")


def main():
    with servers(lambda env: tbctl(env, "db-load")) as (env, root, base):
        with open(os.path.join(root, "htdocs", "small.json"), "w") as f:
            f.write('{"success":true}' + " " * 2032)
        script = os.path.join(REPO, "tests", "bench", "sync_move.lua")
        rev_sql = "SELECT value FROM options WHERE name='revision'"
        rev0 = db_value(env, rev_sql)
        sync, static = [], []
        for _ in range(ROUNDS):
            sync.append(wrk(f"{base}/api/sync", script))
            static.append(wrk(f"{base}/small.json"))
        rev1 = db_value(env, rev_sql)

        def med(rows, k):
            return statistics.median(r[k] for r in rows)
        print(f"{ROUNDS} rounds of {SECONDS} s, {CONNECTIONS} connections, wrk -t2; "
              f"client, httpd and MariaDB share {os.cpu_count()} cores; "
              f"revision {int(rev0)} -> {int(rev1)}")
        print("| what | req/s (median) | p50 ms | p99 ms |")
        print("|---|---|---|---|")
        print(f"| sync: one card move | {med(sync, 0):.0f} | {med(sync, 1):.2f} | "
              f"{med(sync, 2):.2f} |")
        print(f"| static 2 KiB file | {med(static, 0):.0f} | {med(static, 1):.2f} | "
              f"{med(static, 2):.2f} |")
        print(f"sync / static throughput: {med(sync, 0) / med(static, 0):.3f}")


if __name__ == "__main__":
    main()
