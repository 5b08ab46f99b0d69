#!/usr/bin/python3
"""The clients of live.py's fan-out scenarios, in a process of their own (so that reading
hundreds of streams does not compete with live.py's writer for one interpreter lock).

  live_clients.py sse PORT N        N Server-Sent Events subscribers (GET /api/events), all
                                    read by one selector thread
  live_clients.py sse+sync PORT N   the same, and each subscriber also fetches what changed:
                                    whenever its events are ahead of its last sync answer and no
                                    sync of its own is under way, an empty sync (POST /api/sync)
                                    on a keep-alive connection of its own
  live_clients.py poll PORT N PERIOD  N clients that each send an empty sync (POST /api/sync)
                                    every PERIOD seconds on a keep-alive connection, starting
                                    staggered over one period

An empty sync carries the revision of the client's last answer (a subscriber starts from its
ready event's).

Both speak HTTP/1.1 on raw non-blocking sockets; the streams are taken apart by tests/lib/sse.py,
the parser of the integration tests.  Commands arrive on stdin, one per line; each
is answered with one JSON line on stdout:

  ready TIMEOUT   sse: waits until every subscriber has its "ready" event (or TIMEOUT s)
                  poll: starts polling, waits until every client has an answer
  counters        bytes sent and received so far, answers, connections, this process's CPU s
  wait REV TIMEOUT  until every client has seen revision REV (sse: an event with id REV;
                  sse+sync also a sync answer at REV; poll: an answer at REV), or TIMEOUT s
  dump FILE       writes what every client saw to FILE (JSON), see Sub.dump / SyncClient.dump
  quit            closes every connection and exits

Times are time.monotonic(), which is the same clock in every process of the machine.
"""

import json
import os
import selectors
import socket
import sys
import threading
import time

# the SSE client the integration tests use too (tests/lib/sse.py)
sys.path.insert(1, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "lib"))
import sse  # noqa: E402


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


class Sub:
    """One SSE subscriber: sse.SseParser takes the response apart into blocks.  Keeps the
    "ready" revision, the id and arrival time of every unnamed event, heartbeats, and every
    block that is not exactly what a card move's event must look like."""

    def __init__(self):
        self.p = sse.SseParser(keep_body=False)     # held for the whole run: no copy of it all
        self.ready = None
        self.revs = []
        self.times = []
        self.comments = 0
        self.odd = []

    @property
    def status(self) -> int:
        return self.p.status or 0

    @property
    def closed(self) -> bool:
        return self.p.eof

    def feed(self, data: bytes, now: float):
        bad = self.p.bad
        self.p.feed(data, now)
        if self.p.bad and not bad:
            self.odd.append(self.p.bad)
        for b in self.p.blocks:
            self.block(b)
        self.p.blocks.clear()

    def unexpected(self, b: sse.Block):
        self.odd.append(b.text().rstrip("\n"))     # as the server sent it, for the dump

    def block(self, b: sse.Block):
        if b.lines and b.lines[0][0] == "id":
            rev = int(b.lines[0][1])
            rest = b.lines[1:]
            if rest == [("event", "ready"), ("data", '{"revision":%d}' % rev)]:
                if self.ready is not None:
                    self.unexpected(b)
                self.ready = rev
                return
            if rest != [("data", '{"revision":%d,"stores":["tasks"]}' % rev)]:
                self.unexpected(b)
            self.revs.append(rev)
            self.times.append(b.t)
        elif b.comment:
            self.comments += 1
        elif b.lines != [("retry", "2000")]:
            self.unexpected(b)

    @property
    def last(self) -> int:
        return self.revs[-1] if self.revs else (self.ready if self.ready is not None else -1)

    def dump(self) -> dict:
        return {"status": self.status, "ready": self.ready, "revs": self.revs,
                "times": [round(t, 6) for t in self.times], "comments": self.comments,
                "odd": self.odd[:5], "odd_count": len(self.odd), "closed": self.closed}


class SyncClient:
    """One keep-alive connection that sends empty syncs, each with the revision of its last
    answer.  Keeps (time, revision before, revision after) of every answer that brought a newer
    revision, and every answer's latency."""

    def __init__(self, index: int, rev=None):
        self.index = index
        self.sock = None
        self.due = 0.0
        self.sent_at = None         # a request is under way
        self.buf = b""
        self.rev = rev
        self.seen = []
        self.latencies = []
        self.answers = 0
        self.errors = []
        self.delta_answers = 0

    def dump(self) -> dict:
        return {"seen": self.seen, "latencies": [round(x, 6) for x in self.latencies],
                "answers": self.answers, "delta_answers": self.delta_answers,
                "errors": self.errors[:5], "error_count": len(self.errors)}


class Clients:
    """The connections, one selector thread reading them, and the counters."""

    def __init__(self, port: int, n: int, sync_path: str = "/api/sync"):
        self.port = port
        self.n = n
        self.sync_path = sync_path
        self.sel = selectors.DefaultSelector()
        self.stop = threading.Event()
        self.sent = 0
        self.received = 0
        self.connects = 0
        self.error = None
        self.request_id = 10**13 + (os.getpid() % 9000) * 10**9
        self.thread = None

    def connect(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connects += 1
        return s

    def send(self, s: socket.socket, data: bytes):
        s.sendall(data)         # small requests: the kernel's buffer takes them at once
        self.sent += len(data)

    def sync_clients(self):
        return []

    def counters(self) -> dict:
        return {"t": time.monotonic(), "sent": self.sent, "received": self.received,
                "connects": self.connects, "cpu": cpu_seconds(),
                "answers": sum(c.answers for c in self.sync_clients()),
                "error": repr(self.error) if self.error else None}

    # -- empty syncs

    def sync_request(self, c: SyncClient) -> bytes:
        self.request_id += 1
        body = {"type": "sync", "requestId": self.request_id}
        if c.rev is not None:
            body["revision"] = c.rev
        data = json.dumps(body, separators=(",", ":")).encode()
        return (f"POST {self.sync_path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
                ).encode() + data

    def fire(self, c: SyncClient, now: float):
        if c.sock is None:
            c.sock = self.connect()
            c.sock.setblocking(False)
            self.sel.register(c.sock, selectors.EVENT_READ, c)
        c.buf = b""
        c.sent_at = now
        try:
            self.send(c.sock, self.sync_request(c))
        except OSError as e:
            c.errors.append(f"send: {e!r}")
            self.drop(c)

    def drop(self, c: SyncClient):
        if c.sock is not None:
            self.sel.unregister(c.sock)
            c.sock.close()
            c.sock = None
        c.sent_at = None

    def sync_data(self, c: SyncClient, data: bytes, now: float) -> bool:
        """Takes what arrived on c's connection; True when it completed an answer."""
        if not data:
            if c.sent_at is not None:
                c.errors.append("closed during a request")
            self.drop(c)            # keep-alive ended: the next request reconnects
            return False
        c.buf += data
        if c.sent_at is None or not self.answer(c, now):
            return False
        c.sent_at = None
        if c.buf[:c.buf.find(b"\r\n\r\n")].lower().find(b"\r\nconnection: close") >= 0:
            self.drop(c)            # MaxKeepAliveRequests: the next request reconnects
        c.buf = b""
        return True

    def answer(self, c: SyncClient, now: float) -> bool:
        """True once c.buf holds a whole response (Content-Length or chunked)."""
        end = c.buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = c.buf[:end].decode("latin-1").lower()
        body = c.buf[end + 4:]
        length = None
        for line in head.split("\r\n")[1:]:
            if line.startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        if length is not None:
            if len(body) < length:
                return False
            body = body[:length]
        elif "transfer-encoding: chunked" in head:
            if not body.endswith(b"0\r\n\r\n"):
                return False
            out, rest = b"", body
            while True:
                nl = rest.find(b"\r\n")
                size = int(rest[:nl], 16)
                if size == 0:
                    break
                out += rest[nl + 2:nl + 2 + size]
                rest = rest[nl + 4 + size:]
            body = out
        else:
            c.errors.append(f"no length: {head[:200]}")
            return True
        status = int(head.split()[1])
        c.answers += 1
        c.latencies.append(now - c.sent_at)
        try:
            doc = json.loads(body)
        except ValueError:
            doc = {}
        if status != 200 or doc.get("success") is not True or "revision" not in doc:
            c.errors.append(f"{status}: {body[:200]!r}")
            return True
        if doc.get("type") != "sync":
            c.errors.append(f"not a sync answer: {body[:200]!r}")
        if c.rev is not None and doc["revision"] > c.rev:
            c.seen.append((now, c.rev, doc["revision"]))
        if len(doc) > 4:
            c.delta_answers += 1
        c.rev = doc["revision"]
        return True

    def quit(self):
        self.stop.set()
        if self.thread:
            self.thread.join(5)
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()


class SseClients(Clients):
    """The subscribers; with follow, each also has a sync connection and, whenever its events
    are ahead of its last sync answer and no sync is under way, sends an empty sync (as the
    docs/protocol.md's EventSource example does, one sync at a time)."""

    def __init__(self, port: int, n: int, path: str, follow: bool):
        super().__init__(port, n)
        self.subs = []
        self.follow = follow
        self.syncs = {}             # Sub -> SyncClient
        request = sse.request_bytes(port, path)
        for i in range(n):
            s = self.connect()
            self.send(s, request)
            s.setblocking(False)
            sub = Sub()
            self.subs.append(sub)
            self.sel.register(s, selectors.EVENT_READ, sub)
            if follow:
                c = SyncClient(i)
                c.sub = sub
                self.syncs[sub] = c
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def sync_clients(self):
        return list(self.syncs.values())

    def catch_up(self, sub: Sub, now: float):
        c = self.syncs[sub]
        if c.rev is None and sub.ready is not None:
            c.rev = sub.ready       # the client loaded the board at its ready revision
        if c.sent_at is None and sub.revs and c.rev is not None and sub.revs[-1] > c.rev:
            self.fire(c, now)

    def run(self):
        try:
            while not self.stop.is_set():
                for key, data in sse.readable(self.sel, 0.1):
                    now = time.monotonic()
                    self.received += len(data)
                    if isinstance(key.data, Sub):
                        key.data.feed(data, now)
                        if not data:
                            self.sel.unregister(key.fileobj)
                        elif self.follow:
                            self.catch_up(key.data, now)
                    elif self.sync_data(key.data, data, now):
                        self.catch_up(key.data.sub, now)
        except BaseException as e:      # noqa: B902 - reported through counters
            self.error = e

    def ready(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.error:
            if all(s.ready is not None or s.closed for s in self.subs):
                break
            time.sleep(0.02)
        statuses = {}
        for s in self.subs:
            statuses[s.status] = statuses.get(s.status, 0) + 1
        return {"ready": sum(s.ready is not None for s in self.subs),
                "revisions": sorted({s.ready for s in self.subs if s.ready is not None}),
                "statuses": statuses, "closed": sum(s.closed for s in self.subs),
                "t": time.monotonic(), "error": repr(self.error) if self.error else None}

    def behind(self, rev: int) -> int:
        n = 0
        for s in self.subs:
            c = self.syncs.get(s)
            if s.last < rev or (c is not None and (c.rev is None or c.rev < rev)):
                n += 1
        return n

    def wait(self, rev: int, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            behind = self.behind(rev)
            if not behind or time.monotonic() >= deadline or self.error:
                return {"ok": not behind, "behind": behind, "t": time.monotonic(),
                        "closed": sum(s.closed for s in self.subs),
                        "error": repr(self.error) if self.error else None}
            time.sleep(0.02)

    def dump(self) -> dict:
        out = {"subs": [s.dump() for s in self.subs]}
        if self.follow:
            out["syncs"] = [self.syncs[s].dump() for s in self.subs]
        return out


class PollClients(Clients):
    """Clients that send an empty sync every period, starting staggered over one period."""

    def __init__(self, port: int, n: int, period: float):
        super().__init__(port, n)
        self.period = period
        self.pollers = [SyncClient(i) for i in range(n)]

    def sync_clients(self):
        return self.pollers

    def run(self):
        try:
            while not self.stop.is_set():
                now = time.monotonic()
                nearest = now + 0.1
                for c in self.pollers:
                    if c.sent_at is None:
                        if c.due <= now:
                            self.fire(c, now)
                            c.due += self.period
                            while c.due <= now:     # fell behind: skip, do not burst
                                c.due += self.period
                        nearest = min(nearest, c.due)
                for key, data in sse.readable(self.sel, max(0.0, nearest - time.monotonic()),
                                              65536):
                    self.received += len(data)
                    self.sync_data(key.data, data, time.monotonic())
        except BaseException as e:      # noqa: B902 - reported through counters
            self.error = e

    def ready(self, timeout: float) -> dict:
        now = time.monotonic()
        for c in self.pollers:
            c.due = now + c.index * self.period / self.n
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.error:
            if all(c.rev is not None for c in self.pollers):
                break
            time.sleep(0.02)
        return {"ready": sum(c.rev is not None for c in self.pollers),
                "revisions": sorted({c.rev for c in self.pollers if c.rev is not None}),
                "t": time.monotonic(), "error": repr(self.error) if self.error else None}

    def wait(self, rev: int, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            behind = sum(1 for c in self.pollers if c.rev is None or c.rev < rev)
            if not behind or time.monotonic() >= deadline or self.error:
                return {"ok": not behind, "behind": behind, "t": time.monotonic(),
                        "error": repr(self.error) if self.error else None}
            time.sleep(0.02)

    def dump(self) -> dict:
        return {"pollers": [c.dump() for c in self.pollers]}


def main() -> int:
    kind, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if kind in ("sse", "sse+sync"):
        clients = SseClients(port, n, "/api/events", follow=kind == "sse+sync")
    else:
        clients = PollClients(port, n, float(sys.argv[4]))
    for line in sys.stdin:
        cmd, *args = line.split()
        if cmd == "ready":
            out = clients.ready(float(args[0]))
        elif cmd == "counters":
            out = clients.counters()
        elif cmd == "wait":
            out = clients.wait(int(args[0]), float(args[1]))
        elif cmd == "dump":
            with open(args[0], "w") as f:
                json.dump(clients.dump(), f)
            out = {"ok": True}
        elif cmd == "quit":
            clients.quit()
            print(json.dumps({"ok": True}), flush=True)
            return 0
        else:
            out = {"error": f"unknown command {cmd}"}
        print(json.dumps(out), flush=True)
    clients.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
