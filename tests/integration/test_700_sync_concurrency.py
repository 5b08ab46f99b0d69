"""Many clients saving at once through a multi-process httpd: every acknowledged change is in the
database, nothing is duplicated or orphaned, and the revision rises by exactly one per applied
sync.  Once without the revision check, once with it (clients reload on 409 and try again)."""

import json
import os
import random
import threading
import time
import urllib.parse

import requests

import boards

CLIENTS = 8
SYNCS = 100
STATUSES = ["todo", "doing", "review", "done"]

# Several processes with few threads each, so that concurrent syncs really run in different
# processes with their own connection pools; the pid log shows which process served what.
MPM = """\
StartServers 3
ServerLimit 4
ThreadsPerChild 6
MinSpareThreads 6
MaxSpareThreads 24
MaxRequestWorkers 24
CustomLog "logs/pid_log" "%P"
"""


class Client(threading.Thread):
    """One user: adds cards with an assignee, moves its own cards and removes them."""

    def __init__(self, n: int, base: str, check_revision: bool):
        super().__init__(name=f"client-{n}")
        self.n = n
        self.base = base
        self.check_revision = check_revision
        self.session = requests.Session()
        # A new connection per request: a keep-alive connection that the server closes while
        # the client sends on it fails without an answer, and a POST cannot be retried blindly
        # (that is the idempotency work of its own).  Fresh connections also spread the
        # requests over the httpd processes.
        self.session.headers["Connection"] = "close"
        self.live = {}          # task id -> [status, set of assignment ids]
        self.order = []         # live task ids, oldest first
        self.revision = None
        self.applied = 0        # 200 answers to syncs that changed something
        self.conflicts = 0
        self.failures = []

    def reload(self):
        package = json.dumps({"type": "load", "stores": []})
        r = self.session.get(f"{self.base}/api/load?data=" + urllib.parse.quote(package),
                             timeout=30)
        assert r.status_code == 200, r.text
        self.revision = r.json()["revision"]

    def sync(self, body: dict) -> dict:
        streak = 0
        for _ in range(200):
            body["requestId"] = self.n * 100000 + len(self.failures) + self.applied
            if self.check_revision:
                body["revision"] = self.revision
            r = self.session.post(f"{self.base}/api/sync", json=body, timeout=30)
            if r.status_code == 409 and self.check_revision:
                # Back off before trying again, as a client should.  Without it the clients
                # whose last sync succeeded keep winning: they send at once with the revision
                # their answer gave, while a loser needs a reload first, and by then the board
                # has moved again.  Under ThreadSanitizer (everything ~10x slower) one client
                # lost 200 times in a row that way.  The pause grows with the losing streak,
                # up to 0.2 s, and is random so that two losers do not meet again.
                streak += 1
                self.conflicts += 1
                time.sleep(random.uniform(0, min(0.2, 0.005 * 2 ** streak)))
                self.reload()
                continue
            if r.status_code != 200:
                raise AssertionError(f"{self.name}: {r.status_code} {r.text[:300]}")
            answer = r.json()
            self.revision = answer.get("revision")
            self.applied += 1
            return answer
        raise AssertionError(f"{self.name}: no progress after 200 conflicts")

    def add(self, i: int):
        task, assignment = f"_c{self.n}_t{i}", f"_c{self.n}_a{i}"
        answer = self.sync({
            "type": "sync",
            # the assignment comes first: key order must not matter
            "assignments": {"added": [{"$PhantomId": assignment, "eventId": task,
                                       "resourceId": 1 + (self.n + i) % 7, "units": 50}]},
            "tasks": {"added": [{"$PhantomId": task, "name": f"c{self.n}-t{i}",
                                 "status": "todo", "weight": i}]}})
        [trow] = answer["tasks"]["rows"]
        [arow] = answer["assignments"]["rows"]
        assert trow["$PhantomId"] == task and arow["$PhantomId"] == assignment
        assert arow["eventId"] == trow["id"]
        self.live[trow["id"]] = ["todo", {arow["id"]}]
        self.order.append(trow["id"])

    def move(self):
        tid = self.order[-1]
        status = STATUSES[(STATUSES.index(self.live[tid][0]) + 1) % len(STATUSES)]
        answer = self.sync({"type": "sync", "tasks": {"updated": [{"id": tid,
                                                                   "status": status}]}})
        assert "tasks" not in answer, answer       # nothing the server changed further
        self.live[tid][0] = status

    def remove(self):
        tid = self.order.pop(0)
        _, assignments = self.live.pop(tid)
        answer = self.sync({"type": "sync", "tasks": {"removed": [{"id": tid}]}})
        # the assignments went with the task and are reported, since the client did not list them
        reported = {x["id"] for x in answer.get("assignments", {}).get("removed", [])}
        assert reported == assignments, (reported, assignments)

    def run(self):
        try:
            for i in range(SYNCS):
                if i % 4 == 0 or not self.order:
                    self.add(i)
                elif i % 4 == 3:
                    self.remove()
                else:
                    self.move()
        except Exception as e:      # reported by the test, with the thread's name
            self.failures.append(repr(e))


class TestConcurrentSyncs:
    """Each test starts the server with its own configuration (run_clients)."""

    def run_clients(self, env, httpd, db, check_revision: bool):
        conf = boards.board_conf(extra=("" if check_revision
                                        else "    TaskBoardConflictPolicy off\n")) + MPM
        httpd.reload(conf)
        env.db_load()
        before = db.scalar("SELECT value FROM options WHERE name = 'revision'")
        clients = [Client(n, httpd.url(""), check_revision) for n in range(CLIENTS)]
        for c in clients:
            if check_revision:
                c.reload()
            c.start()
        for c in clients:
            c.join(timeout=300)
        # a client still running has not done its syncs: the checks below would miss them
        assert not [c.n for c in clients if c.is_alive()], "clients still running after 300 s"
        failures = [f for c in clients for f in c.failures]
        assert not failures, failures

        # the revision rose by exactly one per applied sync
        after = db.scalar("SELECT value FROM options WHERE name = 'revision'")
        assert after - before == sum(c.applied for c in clients)
        # every acknowledged card is there with its last status, and nothing else of it
        for c in clients:
            rows = db.query("SELECT id, status FROM tasks WHERE name LIKE %s",
                            (f"c{c.n}-t%",))
            assert {r[0]: r[1] for r in rows} == {t: v[0] for t, v in c.live.items()}
            for tid, (_, assignments) in c.live.items():
                got = {r[0] for r in db.query("SELECT id FROM assignments WHERE event = %s",
                                              (tid,))}
                assert got == assignments
        assert db.query("SELECT name FROM tasks GROUP BY name HAVING COUNT(*) > 1") == []
        assert db.scalar("SELECT COUNT(*) FROM assignments a LEFT JOIN tasks t "
                         "ON a.event = t.id WHERE t.id IS NULL") == 0
        # more than one httpd process served the syncs
        with open(os.path.join(httpd.root, "logs", "pid_log")) as f:
            pids = set(f.read().split())
        assert len(pids) >= 2, pids
        return clients

    def test_tb_700_01(self, env, httpd, db):
        # 8 clients x 100 syncs without the revision check
        clients = self.run_clients(env, httpd, db, check_revision=False)
        assert sum(c.applied for c in clients) == CLIENTS * SYNCS

    def test_tb_700_02(self, env, httpd, db):
        # the same with the revision check: conflicts happen, clients reload and save again
        clients = self.run_clients(env, httpd, db, check_revision=True)
        assert sum(c.applied for c in clients) == CLIENTS * SYNCS
        assert sum(c.conflicts for c in clients) > 0
