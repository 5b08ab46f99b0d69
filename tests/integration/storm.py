"""Storms of concurrent clients for the fault and two-node tests (test_900, test_950).

A `Storm` runs `StormClient` threads.  Each one is a user who adds cards with an assignee, moves
its own cards, removes them (once with the card alone, once listing the card's assignments
itself) and loads the board, using a new connection for every request.  It keeps what the server
acknowledged with a 200, and, for every sync whose answer it did not get (a 503, a reset
connection), what that sync would have changed.  A client either

- *abandons* such a sync (`resend=False`): the sync is "unknown", its cards are not touched again,
  and `Storm.verify()` finds out from the database whether it was applied, requiring that it was
  applied completely or not at all; or
- *resends* it (`resend=True`), as the Bryntum client does with `TaskBoardRetryTables`: the same
  changes and $PhantomIds again, under the same requestId and byte-identical body (a transport
  resend) or under a new requestId (the client's next sync), until one is acknowledged.  Nothing
  may then exist twice.

`Storm.verify()` compares the database with all of that: every acknowledged change is there, no
card exists twice or without its assignment, no assignment without its card, unknown syncs are all
or nothing, and the revision rose by exactly one per sync that changed something.  Revisions
answered to syncs acknowledged at the first attempt must be distinct, and respect real time: a
sync or load that started after another sync's answer arrived sees a higher (load: no lower)
revision.

The sizes of the storms scale with TB_STORM_SCALE (default 1), for long runs.
"""

import collections
import json
import os
import random
import re
import socket
import struct
import subprocess
import threading
import time
import traceback
import urllib.parse
import zlib
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set

import pymysql
import requests

import procfs
import tbtest

SCALE = float(os.environ.get("TB_STORM_SCALE") or 1)

STATUSES = ["todo", "doing", "review", "done"]

# the sample configuration's retry records (sql/schema.sql creates the tables)
RETRY_TABLES = "    TaskBoardRetryTables taskboard_phantoms taskboard_requests\n"

# mod_dbd reports failed connects itself ([dbd:error] AH00629 and friends); the module logs its own
# TB lines.  Both are expected while the database is down.
OUTAGE_LOG = (r"\[dbd:", r"TB\d{5}")

# one client's cycle of operations: as many cards added as removed
PATTERN = ("add", "move", "load", "mixed", "move", "remove", "add", "move", "remove")


def scaled(n: float, minimum: int = 1) -> int:
    return max(minimum, int(round(n * SCALE)))


# ------------------------------------------------------------------------------------------------
# Responses and connection errors

def conn_error_kind(exc: BaseException) -> str:
    """What went wrong with a request that got no (complete) answer:
    refused (nothing was sent), reset (RST or broken pipe), closed (closed without an answer),
    broken (an answer that was cut short), timeout, other."""
    if isinstance(exc, requests.exceptions.Timeout):
        return "timeout"
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError,
                        requests.exceptions.ContentDecodingError)):
        return "broken"
    found = set()
    seen, todo = set(), [exc]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ConnectionRefusedError):
            return "refused"
        if isinstance(e, socket.timeout):
            return "timeout"
        if isinstance(e, (ConnectionResetError, BrokenPipeError)):
            found.add("reset")
        if type(e).__name__ == "RemoteDisconnected":
            found.add("closed")
        todo.extend(getattr(e, "args", ()))
        todo.extend([getattr(e, "reason", None), e.__cause__, e.__context__])
    if "reset" in found:
        return "reset"
    if "closed" in found:
        return "closed"
    return "other"


def check_unavailable(resp: requests.Response, kind: str, request_id):
    """A 503 as docs/protocol.md section 3 has it: JSON error of its type, requestId, Retry-After"""
    if kind == "sync":
        tbtest.check_sync_error(resp, 503, request_id=request_id)
    else:
        tbtest.check_error(resp, 503, request_id=request_id)
    tbtest.check_retry_after(resp)


# ------------------------------------------------------------------------------------------------
# Counting

class Tally:
    """Outcomes by (phase, what, kind); the test sets the phase as it injects faults."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.phase = "start"

    def add(self, what: str, kind: str, node: int = 0):
        with self.lock:
            self.counts[(self.phase, what, kind, node)] += 1

    def n(self, what=None, kind=None, phase=None, node=None) -> int:
        with self.lock:
            return sum(v for (p, w, k, nd), v in self.counts.items()
                       if (what is None or w == what) and (kind is None or k == kind)
                       and (phase is None or p == phase) and (node is None or nd == node))

    def table(self) -> Dict[str, Dict[str, int]]:
        """{phase: {"sync 200": n, ...}} (nodes summed), phases in the order they were seen."""
        out: Dict[str, Dict[str, int]] = {}
        with self.lock:
            for (p, w, k, _), v in self.counts.items():
                d = out.setdefault(p, {})
                d[f"{w} {k}"] = d.get(f"{w} {k}", 0) + v
        return {p: dict(sorted(d.items())) for p, d in out.items()}


# ------------------------------------------------------------------------------------------------
# The clients

@dataclass
class Card:
    name: str
    status: str
    resource: int
    assignments: Set[int] = field(default_factory=set)
    added_by: str = ""                        # the attempt that was acknowledged (diagnostics)


@dataclass
class Pending:
    """A sync whose outcome the client does not know (it abandoned it)."""
    parts: list
    how: str                                  # "503", "reset", ...
    request_id: int                           # of the last attempt (to find it in the logs)
    old: Dict[int, Card] = field(default_factory=dict)   # the cards it moved or removed, before


@dataclass
class Timed:
    """A request that got an answer, for the real-time order check."""
    start: float
    end: float
    revision: int
    what: str                                 # "sync" or "load"
    client: int


class StopClient(Exception):
    pass


class StormClient(threading.Thread):

    def __init__(self, storm: "Storm", n: int, resend: bool):
        super().__init__(name=f"storm-{storm.tag}-c{n}", daemon=True)
        self.storm = storm
        self.n = n
        self.resend = resend
        self.prefix = f"st{storm.tag}-c{n}-"
        self.rnd = random.Random(zlib.crc32(self.prefix.encode()))
        self.session = requests.Session()
        self.seq = 0                          # requests sent
        self.k = 0                            # cards created (names)
        self.live: Dict[int, Card] = {}       # acknowledged cards, by task id
        self.order: List[int] = []            # live task ids, oldest first
        self.gone: Dict[int, Card] = {}       # acknowledged removals
        self.pending: List[Pending] = []      # abandoned syncs
        self.revision = None                  # for the conflict check (reject policy)
        self.last_rev = 0                     # highest revision answered to a sync of ours
        self.certain = 0                      # syncs acknowledged at the first unknown-free try
        self.resent_ok = 0                    # syncs acknowledged only after a resend
        self.resends = 0                      # resend requests sent
        self.conflicts = 0
        self.timed: List[Timed] = []
        self.failures: List[str] = []
        self.conn_error = None                # a connection error that is not allowed
        self.per_what = collections.Counter()  # requests sent, by "sync" and "load"
        self.history: List[str] = []          # every sync attempt and its outcome (diagnostics)

    # -- plumbing

    def fail(self, msg: str):
        self.failures.append(f"{self.name}: {msg}")
        raise StopClient()

    def next_rid(self) -> int:
        self.seq += 1
        return (self.storm.rid_base + self.n) * 1000000 + self.seq

    def call(self, method: str, path: str, what: str, data: Optional[bytes] = None):
        """Returns (node, response or None, error kind or None, start, end)."""
        # syncs alternate between the nodes attempt by attempt (a retry after a 409 goes to the
        # other node than the refusal), and so do loads
        self.per_what[what] += 1
        node = (self.n + self.per_what[what] + (what == "load")) % len(self.storm.urls)
        headers = {"Connection": "close", "X-TB-Test": self.storm.test_name}
        if data is not None:
            headers["Content-Type"] = "application/json"
        t0 = time.monotonic()
        try:
            r = self.session.request(method, self.storm.urls[node] + path, data=data,
                                     headers=headers, timeout=self.storm.timeout)
        except requests.RequestException as e:
            kind = conn_error_kind(e)
            self.storm.tally.add(what, kind, node)
            if kind not in self.storm.allowed_conn:
                self.conn_error = f"{what}: connection error '{kind}' (phase " \
                                  f"{self.storm.tally.phase}): {e!r}"
            return node, None, kind, t0, time.monotonic()
        t1 = time.monotonic()
        self.storm.tally.add(what, str(r.status_code), node)
        return node, r, None, t0, t1

    def pause(self):
        # pacing after a refusal, not a wait for a condition: do not hammer a server that is down
        self.storm.stop.wait(0.05)

    # -- loads

    def load(self):
        rid = self.next_rid()
        package = {"type": "load", "requestId": rid, "stores": ["tasks", "assignments"]}
        path = "/api/load?data=" + urllib.parse.quote(json.dumps(package), safe="")
        node, r, err, t0, t1 = self.call("GET", path, "load")
        if self.conn_error:
            self.fail(self.conn_error)
        if r is None:
            self.pause()
            return None
        if r.status_code == 503:
            try:
                check_unavailable(r, "load", rid)
            except AssertionError as e:
                self.fail(f"load 503: {e}")
            self.pause()
            return None
        if r.status_code != 200:
            self.fail(f"load (phase {self.storm.tally.phase}): {tbtest.describe(r)}")
        try:
            body = tbtest.json_body(r)
        except AssertionError as e:
            self.fail(f"load: {e}")
        if body.get("success") is not True or body.get("requestId") != rid:
            self.fail(f"load: {tbtest.describe(r)}")
        rev = body.get("revision")
        if type(rev) is not int or rev < self.last_rev:
            self.fail(f"load revision {rev!r}, but a sync of this client was answered with "
                      f"{self.last_rev}")
        self.timed.append(Timed(t0, t1, rev, "load", self.n))
        tasks = {t["id"]: t for t in body["tasks"]["rows"]}
        by_event = collections.defaultdict(set)
        for a in body["assignments"]["rows"]:
            by_event[a["eventId"]].add(a["id"])
        for tid, card in self.live.items():
            t = tasks.get(tid)
            if t is None or t["name"] != card.name or t["status"] != card.status:
                self.fail(f"load lacks acknowledged card {tid} {card}: {t!r}")
            if by_event.get(tid, set()) != card.assignments:
                self.fail(f"load: card {tid} has assignments {by_event.get(tid)}, "
                          f"acknowledged {card.assignments}")
        for tid, card in self.gone.items():
            if tid in tasks and tasks[tid]["name"] == card.name:
                self.fail(f"load has card {tid} {card.name!r}, whose removal was acknowledged")
        return body

    def reload(self) -> bool:
        """The revision for the conflict check: loads until one succeeds.  False when the
        storm ends first."""
        while True:
            if self.storm.stop.is_set() and self.revision is not None:
                return False
            rid = self.next_rid()
            package = {"type": "load", "requestId": rid, "stores": []}
            path = "/api/load?data=" + urllib.parse.quote(json.dumps(package), safe="")
            node, r, err, t0, t1 = self.call("GET", path, "load")
            if self.conn_error:
                self.fail(self.conn_error)
            if r is not None and r.status_code == 200:
                rev = r.json().get("revision")
                if type(rev) is not int or rev < self.last_rev:
                    self.fail(f"reload: revision {rev!r}, last answered {self.last_rev}")
                self.timed.append(Timed(t0, t1, rev, "load", self.n))
                self.revision = rev
                return True
            if r is not None and r.status_code == 503:
                try:
                    check_unavailable(r, "load", rid)
                except AssertionError as e:
                    self.fail(f"load 503: {e}")
            elif r is not None:
                self.fail(f"reload: {tbtest.describe(r)}")
            self.pause()

    # -- syncs

    def new_card_part(self):
        self.k += 1
        name = f"{self.prefix}{self.k}"
        return ("add", name, self.rnd.randint(1, 7))

    def next_status(self, tid: int) -> str:
        s = self.live[tid].status
        return STATUSES[(STATUSES.index(s) + 1) % len(STATUSES)]

    def changes(self, parts) -> dict:
        tasks = collections.defaultdict(list)
        assignments = collections.defaultdict(list)
        for p in parts:
            if p[0] == "add":
                _, name, res = p
                tasks["added"].append({"$PhantomId": f"_generatedEventModel_{name}",
                                       "name": name, "status": "todo", "weight": self.k,
                                       "cls": "", "durationUnit": "day"})
                assignments["added"].append({"$PhantomId": f"_generatedAssignmentModel_{name}",
                                             "eventId": f"_generatedEventModel_{name}",
                                             "resourceId": res, "units": 50})
            elif p[0] == "move":
                tasks["updated"].append({"id": p[1], "status": p[2]})
            elif p[0] == "remove":
                tasks["removed"].append({"id": p[1]})
                if p[2]:        # the client lists the card's assignments itself, as TaskBoard does
                    assignments["removed"].extend(
                        {"id": a} for a in sorted(self.live[p[1]].assignments))
        out = {}
        # assignments first: key order must not matter
        if assignments:
            out["assignments"] = dict(assignments)
        if tasks:
            out["tasks"] = dict(tasks)
        return out

    def abandon(self, parts, how: str, request_id: int):
        p = Pending(parts, how, request_id)
        for part in parts:
            if part[0] in ("move", "remove"):
                tid = part[1]
                p.old[tid] = self.live.pop(tid)
                self.order.remove(tid)
        self.pending.append(p)

    def sync(self, parts):
        changes = self.changes(parts)
        unknown = None              # how an earlier attempt ended when it may have been applied
        raw = rid = None
        while True:
            if unknown and (not self.resend or self.storm.stop.is_set()):
                self.abandon(parts, unknown, rid)
                return
            # after an unanswered attempt, half of the resends are transport resends: the same
            # requestId and the same bytes; the others are the client's next sync (new requestId)
            if not (unknown and raw is not None and self.rnd.random() < 0.5):
                rid = self.next_rid()
                body = {"type": "sync", "requestId": rid}
                if self.storm.check_revision:
                    body["revision"] = self.revision
                body.update(changes)
                raw = json.dumps(body).encode("utf-8")
            if unknown:
                self.resends += 1
            node, r, err, t0, t1 = self.call("POST", "/api/sync", "sync", data=raw)
            self.history.append(f"{rid} node {node} {parts}: "
                                f"{r.status_code if r is not None else err}")
            if self.conn_error:
                self.abandon(parts, err, rid)
                self.fail(self.conn_error)
            if r is not None and r.status_code == 200:
                self.acknowledged(parts, r, rid, resent=unknown is not None, t0=t0, t1=t1)
                return
            if r is not None and r.status_code == 409 and self.storm.check_revision:
                # refused before anything was written: reload and save again
                self.conflicts += 1
                if not self.reload():
                    if unknown:
                        self.abandon(parts, unknown, rid)
                    raise StopClient()
                raw = None
                continue
            if r is not None and r.status_code == 503:
                try:
                    check_unavailable(r, "sync", rid)
                except AssertionError as e:
                    self.fail(f"sync 503: {e}")
                unknown = "503"
            elif r is not None:
                self.abandon(parts, f"HTTP {r.status_code}", rid)
                self.fail(f"sync (phase {self.storm.tally.phase}): {tbtest.describe(r)}")
            elif err == "refused":
                pass                # nothing was sent: certainly not applied, send it again
            else:
                unknown = unknown or err
            self.pause()

    def acknowledged(self, parts, r, rid, resent: bool, t0: float, t1: float):
        try:
            body = tbtest.json_body(r)
        except AssertionError as e:
            self.fail(f"sync: {e}")
        if body.get("success") is not True or body.get("type") != "sync":
            self.fail(f"sync: {tbtest.describe(r)}")
        if body.get("requestId") != rid:
            self.fail(f"sync: requestId {body.get('requestId')!r}, sent {rid}")
        rev = body.get("revision")
        if type(rev) is not int:
            self.fail(f"sync: revision {rev!r}")
        trows = {x.get("$PhantomId"): x for x in body.get("tasks", {}).get("rows", [])}
        arows = {x.get("$PhantomId"): x for x in body.get("assignments", {}).get("rows", [])}
        reported = {x["id"] for x in body.get("assignments", {}).get("removed", [])}
        adds = [p for p in parts if p[0] == "add"]
        if set(trows) != {f"_generatedEventModel_{p[1]}" for p in adds}:
            self.fail(f"sync: tasks rows {sorted(map(str, trows))} for the adds {adds}")
        if set(arows) != {f"_generatedAssignmentModel_{p[1]}" for p in adds}:
            self.fail(f"sync: assignments rows {sorted(map(str, arows))} for the adds {adds}")
        expect_reported = set()
        for p in parts:
            if p[0] == "remove" and not p[2]:
                expect_reported |= self.live[p[1]].assignments
        # a resend finds the cascaded assignments gone already (unless its answer is replayed)
        if (reported != expect_reported) if not resent else not reported <= expect_reported:
            removed = [p[1] for p in parts if p[0] == "remove"]
            self.fail(f"sync {rid}: assignments removed {sorted(reported)}, expected "
                      f"{sorted(expect_reported)} (resent: {resent}); the cards "
                      + "; ".join(f"{tid} {self.live[tid]}" for tid in removed)
                      + "; the client's syncs:\n  " + "\n  ".join(self.history[-40:]))
        if "tasks" in body and "removed" in body["tasks"]:
            self.fail(f"sync: tasks removed {body['tasks']['removed']}")
        for p in parts:
            if p[0] == "add":
                _, name, res = p
                t = trows[f"_generatedEventModel_{name}"]
                a = arows[f"_generatedAssignmentModel_{name}"]
                if (type(t.get("id")) is not int or t.get("name") != name
                        or t.get("status") != "todo"):
                    self.fail(f"sync: added card {t!r}")
                if (type(a.get("id")) is not int or a.get("eventId") != t["id"]
                        or a.get("resourceId") != res):
                    self.fail(f"sync: added assignment {a!r} for card {t!r}")
                if t["id"] in self.live or t["id"] in self.gone:
                    self.fail(f"sync: the new card got id {t['id']}, which is known already")
                self.live[t["id"]] = Card(name, "todo", res, {a["id"]},
                                          added_by=f"{rid} resent={resent}")
                self.order.append(t["id"])
            elif p[0] == "move":
                self.live[p[1]].status = p[2]
            elif p[0] == "remove":
                self.gone[p[1]] = self.live.pop(p[1])
                self.order.remove(p[1])
        if resent:
            self.resent_ok += 1
        else:
            self.certain += 1
            self.timed.append(Timed(t0, t1, rev, "sync", self.n))
        self.last_rev = max(self.last_rev, rev)
        self.revision = rev

    # -- the loop

    def run(self):
        try:
            if self.storm.check_revision:
                self.reload()
            i = 0
            while not self.storm.stop.is_set():
                if self.storm.max_ops is not None and i >= self.storm.max_ops:
                    break
                op = PATTERN[i % len(PATTERN)]
                i += 1
                if op == "load":
                    self.load()
                elif op == "add" or not self.order:
                    self.sync([self.new_card_part()])
                elif op == "move":
                    tid = self.order[-1]
                    self.sync([("move", tid, self.next_status(tid))])
                elif op == "remove":
                    self.sync([("remove", self.order[0], False)])
                elif len(self.order) < 2:
                    self.sync([self.new_card_part()])
                else:
                    # a new card with its assignee, a move and a removal in one sync
                    first, last = self.order[0], self.order[-1]
                    self.sync([self.new_card_part(), ("move", last, self.next_status(last)),
                               ("remove", first, True)])
        except StopClient:
            pass
        except Exception:
            self.failures.append(f"{self.name}: {traceback.format_exc()}")


# ------------------------------------------------------------------------------------------------
# The storm

class Storm:
    """clients StormClient threads against the httpds `nodes` (the clients alternate between
    them request by request).  Half of the clients resend unanswered syncs when `resend` is
    true; the others abandon them.  `allowed_conn`: connection error kinds that are no failure."""

    def __init__(self, tag: str, nodes, test_name: str, clients: int = 6,
                 check_revision: bool = False, resend: bool = True, allowed_conn=(),
                 max_ops: Optional[int] = None, timeout: float = 30):
        assert re.fullmatch(r"[a-z0-9]+", tag), tag
        self.tag = tag
        self.nodes = list(nodes)
        self.urls = [h.url("") for h in nodes]
        self.test_name = test_name
        self.check_revision = check_revision
        self.allowed_conn = set(allowed_conn)
        self.max_ops = max_ops
        self.timeout = timeout
        self.rid_base = zlib.crc32(tag.encode()) % 1000 * 100
        self.stop = threading.Event()
        self.tally = Tally()
        self.clients = [StormClient(self, n, resend=resend and n % 2 == 0)
                        for n in range(clients)]
        self.started = None
        self.elapsed = None

    def set_phase(self, phase: str):
        self.tally.phase = phase

    def start(self):
        self.started = time.monotonic()
        for c in self.clients:
            c.start()

    def failures(self) -> List[str]:
        return [f for c in self.clients for f in c.failures]

    def acked(self) -> int:
        return sum(c.certain + c.resent_ok for c in self.clients)

    def wait(self, fn, timeout: float, what: str):
        """Polls fn until true; a client failure ends the wait at once."""
        def check():
            f = self.failures()
            assert not f, "\n".join(f[:10])
            if all(not c.is_alive() for c in self.clients) and not fn():
                raise AssertionError(f"all clients ended before: {what}")
            return fn()
        return tbtest.poll(check, timeout, interval=0.05, what=what)

    def wait_acked(self, more: int, timeout: float, what: str):
        target = self.acked() + more
        self.wait(lambda: self.acked() >= target, timeout, f"{more} more syncs: {what}")

    def finish(self, timeout: float = 120, env: Optional[tbtest.TbEnv] = None):
        """Stops the clients (or lets them run to max_ops), waits for them, and fails if any
        client failed (with the database's connections and transactions, given env)."""
        if self.max_ops is None:
            self.stop.set()
        deadline = time.monotonic() + timeout
        for c in self.clients:
            c.join(max(0.1, deadline - time.monotonic()))
        self.stop.set()
        for c in self.clients:
            c.join(max(0.1, deadline - time.monotonic()))
        self.elapsed = time.monotonic() - self.started
        alive = [c.name for c in self.clients if c.is_alive()]
        failures = self.failures()
        if (alive or failures) and env is not None:
            try:
                failures.append(f"board connections: {board_connections(env)}")
                failures.append(f"open transactions: {open_transactions(env)}")
            except Exception as e:      # the database may be down: the failure matters more
                failures.append(f"(database state not available: {e!r})")
            for h in self.nodes:
                failures.append(httpd_threads(h, env.db_port))
        assert not alive, f"clients still running after {timeout} s: {alive}\n" + "\n".join(
            failures[:12])
        assert not failures, "\n".join(failures[:12]) + f"\noutcomes: {self.tally.table()}"

    # -- the database afterwards

    def verify(self, db: tbtest.Db, before: int, exact: bool = False) -> dict:
        """Checks the database against what the clients know (see the module docstring).
        `exact`: no sync may be unknown or resent (no faults were injected)."""
        problems: List[str] = []
        tasks = {r[0]: (r[1], r[2]) for r in db.query(
            "SELECT id, name, status FROM tasks WHERE name LIKE %s", (f"st{self.tag}-%",))}
        by_name = collections.defaultdict(list)
        for tid, (name, _) in tasks.items():
            by_name[name].append(tid)
        assignments = collections.defaultdict(dict)   # event -> {id: resource}
        for aid, event, resource in db.query("SELECT id, event, resource FROM assignments"):
            assignments[event][aid] = resource
        after = int(db.scalar("SELECT value FROM options WHERE name = 'revision'"))

        dup = {n: ids for n, ids in by_name.items() if len(ids) > 1}
        if dup:
            problems.append(f"cards that exist more than once: {dict(list(dup.items())[:10])}")
        orphans = db.scalar("SELECT COUNT(*) FROM assignments a LEFT JOIN tasks t "
                            "ON a.event = t.id WHERE t.id IS NULL")
        if orphans:
            problems.append(f"{orphans} assignments without their card")
        bare = [tasks[t][0] for t in tasks if not assignments.get(t)]
        if bare:
            problems.append(f"cards without their assignment: {bare[:10]}")

        unknown_applied = unknown_absent = 0
        applied_ids = []
        accounted = set()
        for c in self.clients:
            for tid, card in c.live.items():
                accounted.add(card.name)
                got = tasks.get(tid)
                if got != (card.name, card.status):
                    problems.append(f"{c.name}: acknowledged card {tid} {card}, database has "
                                    f"{got!r}")
                want = {a: card.resource for a in card.assignments}
                if assignments.get(tid, {}) != want:
                    problems.append(f"{c.name}: card {tid} has assignments "
                                    f"{assignments.get(tid)}, acknowledged {want}")
            for tid, card in c.gone.items():
                accounted.add(card.name)
                if tasks.get(tid, (None,))[0] == card.name:
                    problems.append(f"{c.name}: card {tid} {card.name!r} is still there, its "
                                    f"removal was acknowledged")
            for p in c.pending:
                verdicts = []
                for part in p.parts:
                    if part[0] == "add":
                        _, name, res = part
                        accounted.add(name)
                        ids = by_name.get(name, [])
                        if not ids:
                            verdicts.append(False)
                        elif len(ids) == 1 and assignments.get(ids[0], {}) and set(
                                assignments[ids[0]].values()) == {res} and len(
                                assignments[ids[0]]) == 1 and tasks[ids[0]][1] == "todo":
                            verdicts.append(True)
                        else:
                            verdicts.append(f"add {name}: {[(i, tasks[i]) for i in ids]} "
                                            f"{[assignments.get(i) for i in ids]}")
                    else:
                        tid = part[1]
                        old = p.old[tid]
                        accounted.add(old.name)
                        want = {a: old.resource for a in old.assignments}
                        got = tasks.get(tid)
                        if part[0] == "move":
                            if got == (old.name, part[2]) and assignments.get(tid, {}) == want:
                                verdicts.append(True)
                            elif got == (old.name, old.status) and assignments.get(
                                    tid, {}) == want:
                                verdicts.append(False)
                            else:
                                verdicts.append(f"move {tid} {old} to {part[2]}: {got} "
                                                f"{assignments.get(tid)}")
                        else:
                            if got is None and not any(a in assignments.get(tid, {})
                                                       for a in old.assignments):
                                verdicts.append(True)
                            elif got == (old.name, old.status) and assignments.get(
                                    tid, {}) == want:
                                verdicts.append(False)
                            else:
                                verdicts.append(f"remove {tid} {old}: {got} "
                                                f"{assignments.get(tid)}")
                bad = [v for v in verdicts if not isinstance(v, bool)]
                if bad or len(set(verdicts)) != 1:
                    problems.append(f"{c.name}: unanswered sync ({p.how}) {p.parts} applied "
                                    f"partly: {verdicts}")
                elif verdicts[0]:
                    unknown_applied += 1
                    applied_ids.append(f"{p.how}:{p.request_id}")
                else:
                    unknown_absent += 1
        strays = sorted(n for n in by_name if n not in accounted)
        if strays:
            problems.append(f"cards no client knows of (a sync applied although refused, or "
                            f"twice): {strays[:10]}")

        certain = sum(c.certain for c in self.clients)
        resent_ok = sum(c.resent_ok for c in self.clients)
        if after - before != certain + resent_ok + unknown_applied:
            problems.append(f"revision rose by {after - before}, but {certain} syncs were "
                            f"acknowledged at once, {resent_ok} after resends and "
                            f"{unknown_applied} unanswered ones were applied")
        timed = sorted((t for c in self.clients for t in c.timed), key=lambda t: t.start)
        revs = [t.revision for t in timed if t.what == "sync"]
        if len(set(revs)) != len(revs):
            dups = [r for r, k in collections.Counter(revs).items() if k > 1]
            problems.append(f"revisions answered to more than one sync: {dups[:10]}")
        if revs and not (before < min(revs) and max(revs) <= after):
            problems.append(f"revisions answered {min(revs)}..{max(revs)} outside "
                            f"{before + 1}..{after}")
        if exact and sorted(revs) != list(range(before + 1, after + 1)):
            missing = sorted(set(range(before + 1, after + 1)) - set(revs))
            problems.append(f"the revisions answered are not exactly {before + 1}..{after}: "
                            f"missing {missing[:10]}")
        for c in self.clients:
            own = [t.revision for t in sorted(c.timed, key=lambda t: t.start)
                   if t.what == "sync"]
            if any(b <= a for a, b in zip(own, own[1:])):
                problems.append(f"{c.name}: revisions of its syncs do not increase: {own[:50]}")
        problems.extend(real_time_order(timed))
        if exact:
            n_unknown = sum(len(c.pending) for c in self.clients)
            if n_unknown or resent_ok:
                problems.append(f"{n_unknown} unanswered and {resent_ok} resent syncs in a "
                                f"run without faults")
        summary = {
            "elapsed_s": round(self.elapsed or 0, 1),
            "syncs_acknowledged": certain + resent_ok,
            "acknowledged_at_once": certain,
            "acknowledged_after_resend": resent_ok,
            "resend_requests": sum(c.resends for c in self.clients),
            "unanswered_abandoned": unknown_applied + unknown_absent,
            "unanswered_applied": unknown_applied,
            "unanswered_applied_request_ids": applied_ids[:20],
            "unanswered_not_applied": unknown_absent,
            "conflicts_409": sum(c.conflicts for c in self.clients),
            "loads_checked": sum(1 for t in timed if t.what == "load"),
            "revision": [before, after],
            "cards_live": sum(len(c.live) for c in self.clients),
            "outcomes": self.tally.table(),
        }
        assert not problems, ("database does not match what the clients were told:\n  "
                              + "\n  ".join(problems[:30]) + f"\nsummary: {summary}")
        return summary


def real_time_order(timed: List[Timed]) -> List[str]:
    """A sync that started after another sync's answer arrived must get a higher revision; a
    load that started then must see at least that revision."""
    problems = []
    by_end = sorted((t for t in timed if t.what == "sync"), key=lambda t: t.end)
    j, best = 0, None
    for t in sorted(timed, key=lambda t: t.start):
        while j < len(by_end) and by_end[j].end < t.start:
            if best is None or by_end[j].revision > best.revision:
                best = by_end[j]
            j += 1
        if best is None:
            continue
        if (t.what == "sync" and t.revision <= best.revision) or (
                t.what == "load" and t.revision < best.revision):
            problems.append(f"client {t.client}'s {t.what} got revision {t.revision}, but client "
                            f"{best.client}'s sync had been answered {best.revision} "
                            f"{t.start - best.end:.3f} s before it started")
    return problems[:10]


# ------------------------------------------------------------------------------------------------
# Processes and the database, seen from outside

# x86_64 system call numbers, for telling where httpd's threads wait
SYSCALLS = {0: "read", 7: "poll", 23: "select", 45: "recvfrom", 202: "futex", 232: "epoll_wait",
            271: "ppoll", 281: "epoll_pwait"}


def httpd_threads(httpd: tbtest.Httpd, db_port: int) -> str:
    """Where the threads of each httpd child wait (system call counts) and its TCP connections
    to the database, for a failure message: a request that hangs shows up here."""
    parent = httpd.pid()
    if parent is None:
        return f"{httpd.name}: not running"
    try:
        ss = subprocess.run(["ss", "-tanp"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError) as e:
        ss = f"(ss: {e!r})"
    out = [f"{httpd.name} (pid {parent}):"]
    for pid in sorted(procfs.children(parent)):
        waits = collections.Counter()
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                    first = f.read().split()[0]
                waits[SYSCALLS.get(int(first), first) if first.isdigit() else first] += 1
        except OSError:
            pass
        socks = [" ".join(ln.split()[:5]) for ln in ss.splitlines()
                 if f"pid={pid}," in ln and f":{db_port} " in ln + " "]
        out.append(f"  child {pid}: threads waiting in {dict(waits)}; database sockets {socks}")
    return "\n".join(out)


def apache_signal(httpd: tbtest.Httpd, action: str):
    """apache2 -d ROOT -f CONF -k ACTION on the harness's server root."""
    env = dict(os.environ)
    if env.get("TB_HTTPD_PRELOAD"):         # the sanitizer build needs its runtime to load
        env["LD_PRELOAD"] = env["TB_HTTPD_PRELOAD"]
    p = subprocess.run([tbtest.APACHE2, "-d", httpd.root, "-f", httpd.conf_path, "-k", action],
                       env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, f"apache2 -k {action}: exit {p.returncode}: {p.stdout}{p.stderr}"


def root_query(env: tbtest.TbEnv, sql: str, args=None):
    """A query as MariaDB's root over the socket (INNODB_TRX needs the PROCESS privilege)."""
    c = pymysql.connect(unix_socket=os.path.join(env.state_dir, "mariadb", "mysqld.sock"),
                        user="root", password="", autocommit=True, connect_timeout=5)
    try:
        with c.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())
    finally:
        c.close()


def board_connections(env: tbtest.TbEnv) -> List[tuple]:
    """The board user's connections other than the tests' own pymysql connection
    (id, command, state, time, query)."""
    own = env.db.scalar("SELECT CONNECTION_ID()")
    return root_query(env, "SELECT ID, COMMAND, STATE, TIME, LEFT(INFO, 100) "
                           "FROM information_schema.PROCESSLIST WHERE USER = %s AND ID <> %s",
                      (tbtest.DB_USER, own))


def open_transactions(env: tbtest.TbEnv) -> List[tuple]:
    own = env.db.scalar("SELECT CONNECTION_ID()")
    return root_query(env, "SELECT trx_mysql_thread_id, trx_state, trx_started, "
                           "LEFT(trx_query, 100) FROM information_schema.INNODB_TRX "
                           "WHERE trx_mysql_thread_id <> %s", (own,))


def revision(db: tbtest.Db) -> int:
    return int(db.scalar("SELECT value FROM options WHERE name = 'revision'"))


# ------------------------------------------------------------------------------------------------
# Clients that go away

def raw_request(port: int, head: str) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(head.encode("latin-1"))
    return s


def close_abruptly(s: socket.socket, rst: bool):
    """Closes: with RST (SO_LINGER 0) or with a normal FIN."""
    if rst:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def abort_upload(port: int, path: str, body: bytes, test_name: str, rst: bool,
                 fraction: float = 0.5) -> int:
    """Announces the whole body, sends a part of it and goes away.  Returns the bytes sent."""
    s = raw_request(port, f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                          f"X-TB-Test: {test_name}\r\nConnection: close\r\n\r\n")
    n = int(len(body) * fraction)
    s.sendall(body[:n])
    close_abruptly(s, rst)
    return n


def abort_download(port: int, path: str, test_name: str, rst: bool, keep: int = 8192) -> bytes:
    """Requests path, reads the status line, headers and a few KB of the body, goes away."""
    s = raw_request(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          f"X-TB-Test: {test_name}\r\nConnection: close\r\n\r\n")
    got = b""
    while len(got) < keep:
        chunk = s.recv(keep - len(got))
        if not chunk:
            break
        got += chunk
    close_abruptly(s, rst)
    return got


def send_and_vanish(port: int, path: str, body: bytes, test_name: str, rst: bool):
    """Sends a whole sync and goes away before the answer."""
    s = raw_request(port, f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                          f"X-TB-Test: {test_name}\r\nConnection: close\r\n\r\n")
    s.sendall(body)
    close_abruptly(s, rst)


# ------------------------------------------------------------------------------------------------
# A big board in tables of its own

BIG_TABLES = ("tasks", "resources", "assignments", "columns", "swimlanes", "options")


def make_big_board(db: tbtest.Db, prefix: str, n_tasks: int, n_resources: int = 200):
    """<prefix>tasks etc., shaped like the sample tables: n_tasks cards with two assignments each.
    Filled by the server from MariaDB's sequence engine (seq_1_to_N)."""
    for t in BIG_TABLES:
        db.execute(f"DROP TABLE IF EXISTS {prefix}{t}")
        db.execute(f"CREATE TABLE {prefix}{t} LIKE `{t}`")
    db.execute(f"INSERT INTO {prefix}resources (id, name, email, image, role, active) "
               f"SELECT seq, CONCAT('Person ', seq), CONCAT('p', seq, '@example.com'), "
               f"CONCAT('p', seq, '.png'), ELT(1 + seq % 3, 'Developer', 'QA', 'Manager'), "
               f"seq % 2 FROM seq_1_to_{int(n_resources)}")
    db.execute(f"INSERT INTO {prefix}tasks (id, name, description, status, prio, weight, "
               f"deadline, start_date, event_color, read_only, parent_id, meta) "
               f"SELECT seq, CONCAT('Card number ', seq), REPEAT('Lorem ipsum ', seq % 13), "
               f"ELT(1 + seq % 4, 'todo', 'doing', 'review', 'done'), "
               f"ELT(1 + seq % 3, 'high', 'medium', 'low'), seq % 300, "
               f"'2024-01-01' + INTERVAL (seq % 900) DAY, "
               f"'2024-01-01 08:00:00' + INTERVAL seq MINUTE, NULL, seq % 2, NULL, "
               f"IF(seq % 5 = 0, CONCAT('{{\"n\": ', seq, '}}'), NULL) "
               f"FROM seq_1_to_{int(n_tasks)}")
    db.execute(f"INSERT INTO {prefix}assignments (event, resource, units) "
               f"SELECT seq, 1 + seq % {int(n_resources)}, 100 FROM seq_1_to_{int(n_tasks)} "
               f"UNION ALL SELECT seq, 1 + (seq + {int(n_resources) // 2}) % {int(n_resources)}, "
               f"50 FROM seq_1_to_{int(n_tasks)}")
    for t in ("columns", "swimlanes"):
        db.execute(f"INSERT INTO {prefix}{t} SELECT * FROM `{t}`")
    db.execute(f"INSERT INTO {prefix}options (name, value) VALUES ('revision', 1)")


def drop_big_board(db: tbtest.Db, prefix: str):
    for t in reversed(BIG_TABLES):
        db.execute(f"DROP TABLE IF EXISTS {prefix}{t}")
