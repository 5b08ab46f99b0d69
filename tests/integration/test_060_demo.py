"""The demo, as the README's first command starts it (`make demo` runs `tests/tbctl.sh demo`, which
is `start` in the foreground): its own MariaDB and httpd on free loopback ports in a state folder of
its own, serving the task board page and API and the Scheduler Pro sample (its page, the npm trial
build it loads, its API); `stop` stops both by their pid files.  A second `start` keeps what the
users changed: the samples are loaded into a new database only.
"""

import json
import os
import shutil
import subprocess
import urllib.parse

import requests

import tbtest

TRIAL = os.path.join(tbtest.REPO, "tests", "browser", "node_modules", "@bryntum",
                     "schedulerpro-trial", "schedulerpro.module.js")


def tbctl(env, *args):
    return subprocess.run([tbtest.TBCTL, *args], env=env, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def load(base, api, stores):
    package = json.dumps({"type": "load", "requestId": 1, "stores": stores})
    r = requests.get(f"{base}{api}/load?data=" + urllib.parse.quote(package), timeout=30)
    assert r.status_code == 200, r.text[:300]
    return r.json()


class TestDemo:

    def test_tb_060_01(self, env):
        state = os.path.join(env.state_dir, "demo")
        shutil.rmtree(state, ignore_errors=True)
        demo_env = dict(os.environ, TB_STATE_DIR=state, TB_MODULE=env.module,
                        TB_HTTP_PORT=str(tbtest.free_port()), TB_DB_PORT=str(tbtest.free_port()))
        base = f"http://127.0.0.1:{demo_env['TB_HTTP_PORT']}"
        started = tbctl(demo_env, "start")
        try:
            assert started.returncode == 0, started.stdout + started.stderr
            assert f"{base}/schedulerpro/" in started.stdout
            # the task board: its page and its API
            assert requests.get(f"{base}/board/", timeout=30).status_code == 200
            board = load(base, "/api", ["tasks"])
            assert board["tasks"]["rows"]
            # Scheduler Pro: the page, the trial build it loads by default, the sample's API
            page = requests.get(f"{base}/schedulerpro/", timeout=30)
            assert page.status_code == 200 and "/bryntum/schedulerpro/" in page.text
            if os.path.exists(TRIAL):
                bundle = requests.get(f"{base}/bryntum/schedulerpro/schedulerpro.module.js",
                                      timeout=30)
                assert bundle.status_code == 200
                assert len(bundle.content) == os.path.getsize(TRIAL)
            spro = load(base, "/schedulerpro/api", ["resources", "events"])
            assert spro["resources"]["rows"] and spro["events"]["rows"]
            # the Gantt and Scheduler/Calendar samples: their pages and APIs (the pages need a
            # licensed build, TB_BRYNTUM_BUILD, to run)
            for page in ("gantt", "scheduler", "calendar", "taskboard"):
                assert requests.get(f"{base}/{page}/", timeout=30).status_code == 200, page
            gantt = load(base, "/gantt/api", ["tasks", "calendars"])
            assert any("children" in row for row in gantt["tasks"]["rows"])
            assert "project" in gantt
            assert load(base, "/scheduler/api", ["events"])["events"]["rows"]
            # a change survives a restart: the samples go into a new database only
            first = spro["resources"]["rows"][0]
            r = requests.post(f"{base}/schedulerpro/api/sync", timeout=30, json={
                "type": "sync", "requestId": 2,
                "resources": {"updated": [{"id": first["id"], "name": "Renamed in the demo"}]}})
            assert r.status_code == 200, r.text[:300]
            assert tbctl(demo_env, "stop").returncode == 0
            started = tbctl(demo_env, "start")
            assert started.returncode == 0, started.stdout + started.stderr
            again = load(base, "/schedulerpro/api", ["resources"])
            assert {"id": first["id"], "name": "Renamed in the demo"}.items() <= \
                [row for row in again["resources"]["rows"] if row["id"] == first["id"]][0].items()
        finally:
            stopped = tbctl(demo_env, "stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        # both servers are gone: their pid files with them
        assert not os.path.exists(os.path.join(state, "httpd", "logs", "httpd.pid"))
        assert not os.path.exists(os.path.join(state, "mariadb", "mysqld.pid"))
