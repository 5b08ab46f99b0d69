"""What the browser tests share (test_750_browser.py, test_780_schedulerpro_browser.py): the check
for node, chromium and tests/browser/node_modules, and the client of a driver script in
tests/browser (one JSON command per line in, one JSON answer per line out)."""

import json
import os
import selectors
import shutil
import subprocess
import time

import tbtest

BROWSER_DIR = os.path.join(tbtest.REPO, "tests", "browser")
CHROMIUM = os.environ.get("TB_CHROMIUM", "/usr/bin/chromium")


def missing_tools(*packages: str):
    """What the browser tests need and this machine lacks: node, chromium, and the node packages
    (playwright-core and any others named) in tests/browser/node_modules."""
    missing = []
    if not shutil.which("node"):
        missing.append("node")
    if not os.path.exists(CHROMIUM):
        missing.append(CHROMIUM + " (apt-get install chromium)")
    for package in ("playwright-core",) + packages:
        if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", package)):
            missing.append(f"tests/browser/node_modules/{package} (make -f Makefile.apxs deps)")
    return missing


class Browser:
    """A driver script of tests/browser (driver.mjs, schedulerpro.mjs) and the chromium it runs."""

    def __init__(self, log_path: str, driver: str):
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)             # the sanitizer run preloads into httpd only
        # the sanitizer build answers more slowly
        env.setdefault("TB_BROWSER_TIMEOUT_MS", "30000")
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(["node", driver], cwd=BROWSER_DIR, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)
        self.next_id = 1
        self.timings = []
        ready = self._read(60)
        assert ready.get("ready"), ready
        self.version = ready.get("browser")

    def _read(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.selector.select(left):
                raise TimeoutError(f"the browser driver did not answer within {timeout} s; "
                                   f"see {self.log_path}")
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the browser driver ended (exit {self.proc.poll()}): "
                                   f"{self.tail()}")
            return json.loads(line)

    def tail(self) -> str:
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()[-3000:]

    def call(self, cmd: str, timeout: float = 90, **args) -> dict:
        """Runs a command; fails the test with the driver's error and the page's state."""
        cid = self.next_id
        self.next_id += 1
        self.proc.stdin.write(json.dumps({"id": cid, "cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()
        while True:
            answer = self._read(timeout)
            if answer.get("id") == cid:
                break
        self.timings.append((cmd, answer.get("ms")))
        shown = answer.get("board") or answer.get("view")
        assert answer.get("ok"), (f"browser {cmd} {args}: {answer.get('error')}\n"
                                  f"page: {json.dumps(shown)[:3000]}\n"
                                  f"problems: {answer.get('problems')}")
        return answer

    def close(self):
        try:
            self.proc.stdin.write(json.dumps({"cmd": "close"}) + "\n")
            self.proc.stdin.close()
            self.proc.wait(30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()
