"""A Server-Sent Events client on raw sockets, for the integration tests (test_670_events,
test_840_event_limits) and the benchmark's subscribers (tests/bench/live_clients.py).

`requests` cannot read a stream with a deadline per event, nor hold hundreds of them open
cheaply, so this module speaks HTTP/1.1 itself: it sends one GET, reads the response head, takes
the body apart (chunked or not) and splits it into SSE blocks, each block being the lines up to a
blank line, exactly as the server sent them (a comment-only block is a heartbeat).

- `SseParser`: the response of one stream, fed with what the socket gives, taken apart.
- `SseStream(httpd, ...)`: one blocking stream, read block by block with a deadline.
- `SseFanout(httpd, n, ...)`: n streams read by one selector thread, for many subscribers.
- `readable(sel, timeout)`: what a selector's sockets have for reading, for such a thread.

Every block keeps the time it arrived (time.monotonic()), so a test can tell when the server
sent a heartbeat or closed the stream.  `httpd` is a tests/integration tbtest.Httpd (its port,
and the test's name for the X-TB-Test header).
"""

import os
import selectors
import socket
import threading
import time
from typing import List, Optional, Tuple


class Block:
    """One SSE block: its lines as (field, value) pairs, in order; "" is the field of a comment."""

    def __init__(self, lines: List[Tuple[str, str]], t: float):
        self.lines = lines
        self.t = t

    def _get(self, name: str) -> Optional[str]:
        vals = [v for f, v in self.lines if f == name]
        return vals[-1] if vals else None

    @property
    def id(self) -> Optional[str]:
        return self._get("id")

    @property
    def event(self) -> Optional[str]:
        return self._get("event")

    @property
    def retry(self) -> Optional[str]:
        return self._get("retry")

    @property
    def data(self) -> Optional[str]:
        vals = [v for f, v in self.lines if f == "data"]
        return "\n".join(vals) if vals else None

    @property
    def comment(self) -> bool:
        """A block of comment lines only (a heartbeat)."""
        return bool(self.lines) and all(f == "" for f, _ in self.lines)

    @property
    def is_event(self) -> bool:
        """A block that dispatches an event in a browser (it has data)."""
        return self.data is not None

    def json(self):
        """The data as JSON, read as the integration tests read every answer (tbtest.jloads:
        a key twice is an error)."""
        import tbtest
        return tbtest.jloads(self.data)

    def text(self) -> str:
        return "".join((f"{f}: {v}\n" if f else f":{v}\n") for f, v in self.lines) + "\n"

    def __repr__(self):
        return f"Block({self.text()!r})"


class SseParser:
    """Incremental: HTTP response head, then the body (chunked or up to EOF), then SSE blocks.
    keep_body=False: body_text stays empty, for a client that holds a stream for long and only
    wants its blocks."""

    def __init__(self, keep_body: bool = True):
        self.keep_body = keep_body
        self.raw = b""
        self.head_done = False
        self.status: Optional[int] = None
        self.status_line = ""
        self.headers = {}
        self.chunked = False
        self.body = b""             # body bytes not yet split into lines
        self.body_text = b""        # every body byte, for tests that look at the exact stream
        self.ended = False          # the final chunk arrived: the server ended the response
        self.eof = False            # the connection was closed
        self.bad: Optional[str] = None
        self.blocks: List[Block] = []
        self._lines: List[Tuple[str, str]] = []
        self._chunk_left = 0        # data bytes of the current chunk still to come
        self._chunk_crlf = False    # the CRLF after a chunk's data is due

    def feed(self, data: bytes, now: float):
        if not data:
            self.eof = True
            return
        self.raw += data
        if not self.head_done:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.raw = self.raw[:end].decode("latin-1"), self.raw[end + 4:]
            lines = head.split("\r\n")
            self.status_line = lines[0]
            self.status = int(lines[0].split()[1])
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                self.headers[k.strip().lower()] = v.strip()
            self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
            self.head_done = True
        if self.chunked:
            self._dechunk(now)
        else:
            self._body(self.raw, now)
            self.raw = b""

    def _dechunk(self, now: float):
        while self.raw and not self.ended:
            if self._chunk_crlf:
                if len(self.raw) < 2:
                    return
                if self.raw[:2] != b"\r\n":
                    self.bad = f"no CRLF after a chunk: {self.raw[:20]!r}"
                    self.ended = True
                    return
                self.raw = self.raw[2:]
                self._chunk_crlf = False
            elif self._chunk_left:
                take = self.raw[:self._chunk_left]
                self.raw = self.raw[len(take):]
                self._chunk_left -= len(take)
                if not self._chunk_left:
                    self._chunk_crlf = True
                self._body(take, now)
            else:
                nl = self.raw.find(b"\r\n")
                if nl < 0:
                    return
                size = int(self.raw[:nl].split(b";")[0], 16)
                if size == 0:
                    # the last chunk (and an empty trailer): the response is complete
                    if self.raw[nl + 2:nl + 4] != b"\r\n":
                        return
                    self.raw = self.raw[nl + 4:]
                    self.ended = True
                    return
                self.raw = self.raw[nl + 2:]
                self._chunk_left = size

    def _body(self, data: bytes, now: float):
        if self.keep_body:
            self.body_text += data
        self.body += data
        nl = self.body.rfind(b"\n")
        if nl < 0:
            return
        # every complete line at once (a character's bytes never hold a newline)
        lines = self.body[:nl].decode("utf-8").split("\n")
        self.body = self.body[nl + 1:]
        for line in lines:
            if line.endswith("\r"):
                line = line[:-1]
            if line == "":
                if self._lines:
                    self.blocks.append(Block(self._lines, now))
                self._lines = []
            elif line.startswith(":"):
                self._lines.append(("", line[1:]))
            else:
                f, colon, v = line.partition(":")
                if colon and v.startswith(" "):
                    v = v[1:]
                self._lines.append((f, v))

    @property
    def closed(self) -> bool:
        return self.ended or self.eof


def request_bytes(port: int, path: str, method: str = "GET", last_event_id=None,
                  headers: Optional[dict] = None, test: Optional[str] = None) -> bytes:
    """The request of a subscriber; X-TB-Test (the test's name in the access log) when `test`
    is given."""
    h = {"Host": f"127.0.0.1:{port}", "Accept": "text/event-stream", "Cache-Control": "no-cache"}
    if test is not None:
        h["X-TB-Test"] = test
    if last_event_id is not None:
        h["Last-Event-ID"] = str(last_event_id)
    h.update(headers or {})
    return (f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
            + "\r\n").encode("latin-1")


class SseStream:
    """One subscriber, read synchronously.  `next(timeout)` returns the next block, or None when
    none came in time or the stream is over (then `.closed` is true)."""

    def __init__(self, httpd, path: str = "/api/events", last_event_id=None,
                 headers: Optional[dict] = None, head_timeout: float = 15,
                 tag: Optional[str] = None, source: Optional[str] = None):
        self.httpd = httpd
        self.tag = tag
        self.p = SseParser()
        self.pos = 0
        self.t_open = time.monotonic()
        # source: the client's address (any of 127.0.0.0/8 reaches the server), for the limits
        # per client address
        self.sock = socket.create_connection(("127.0.0.1", httpd.port), timeout=10,
                                             source_address=(source, 0) if source else None)
        self.sock.sendall(request_bytes(httpd.port, path, last_event_id=last_event_id,
                                        headers=headers,
                                        test=tag or httpd.env.current_test or "-"))
        deadline = time.monotonic() + head_timeout
        while not self.p.head_done:
            if not self._recv(deadline):
                raise AssertionError(f"no response head within {head_timeout} s "
                                     f"(got {self.p.raw[:200]!r})")

    # -- reading

    def _recv(self, deadline: float) -> bool:
        """Reads what arrives before the deadline; False on timeout or end of stream."""
        if self.p.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            data = b""
        self.p.feed(data, time.monotonic())
        return bool(data)

    def next(self, timeout: float) -> Optional[Block]:
        deadline = time.monotonic() + timeout
        while self.pos >= len(self.p.blocks):
            if self.p.ended or not self._recv(deadline):
                if self.pos < len(self.p.blocks):
                    break
                return None
        b = self.p.blocks[self.pos]
        self.pos += 1
        return b

    def next_event(self, timeout: float) -> Optional[Block]:
        """The next block that is not a heartbeat."""
        deadline = time.monotonic() + timeout
        while True:
            b = self.next(max(0.0, deadline - time.monotonic()))
            if b is None or not b.comment:
                return b

    def events(self, n: int, timeout: float) -> List[Block]:
        """Exactly n more event blocks (heartbeats skipped); fails if they do not come in time."""
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            b = self.next_event(max(0.0, deadline - time.monotonic()))
            assert b is not None, (
                f"{len(out)} of {n} events within {timeout} s (closed={self.closed}): {out}")
            out.append(b)
        return out

    def quiet(self, seconds: float) -> List[Block]:
        """The event blocks (not heartbeats) that arrive within `seconds`."""
        deadline = time.monotonic() + seconds
        out = []
        while True:
            b = self.next_event(max(0.0, deadline - time.monotonic()))
            if b is None:
                return out
            out.append(b)

    def wait_closed(self, timeout: float) -> bool:
        """Reads (and keeps) everything until the server ends the stream; True if it did."""
        deadline = time.monotonic() + timeout
        while not self.p.closed:
            if not self._recv(deadline) and time.monotonic() >= deadline:
                return False
        return True

    # -- what arrived

    @property
    def status(self) -> Optional[int]:
        return self.p.status

    @property
    def headers(self) -> dict:
        return self.p.headers

    @property
    def closed(self) -> bool:
        return self.p.closed

    @property
    def blocks(self) -> List[Block]:
        return self.p.blocks

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def request_logged(httpd, tag: str) -> bool:
    """Whether the access log has the line of the request sent with X-TB-Test: tag (httpd writes
    it when the request is over: for a stream, when the server ended it or saw the client go)."""
    try:
        with open(os.path.join(httpd.root, "logs", "access_log"), errors="replace") as f:
            return any(ln.rstrip().endswith(f'"{tag}"') for ln in f)
    except OSError:
        return False


def event_ids(blocks: List[Block]) -> List[int]:
    """The ids of the unnamed events (revisions) among blocks, in order."""
    return [int(b.id) for b in blocks if b.is_event and b.event is None]


def readable(sel: selectors.BaseSelector, timeout: float, size: int = 262144):
    """(key, bytes) for each of the selector's non-blocking sockets that has something to read
    within `timeout`; b"" when the peer closed or reset the connection."""
    for key, _ in sel.select(timeout=timeout):
        try:
            data = key.fileobj.recv(size)
        except BlockingIOError:
            continue
        except ConnectionResetError:
            data = b""
        yield key, data


class SseFanout:
    """n subscribers on one server, all read by one selector thread; `clients[i]` is the parser
    of the i-th stream (its `.blocks` grow while the thread runs)."""

    def __init__(self, httpd, n: int, path: str = "/api/events"):
        self.httpd = httpd
        self.clients: List[SseParser] = []
        self.socks: List[socket.socket] = []
        self.sel = selectors.DefaultSelector()
        self.stop = threading.Event()
        self.bytes = 0
        self.error: Optional[BaseException] = None
        req = request_bytes(httpd.port, path, test=httpd.env.current_test or "-")
        self.t_open = time.monotonic()
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", httpd.port), timeout=10)
            s.sendall(req)
            s.setblocking(False)
            p = SseParser()
            self.clients.append(p)
            self.socks.append(s)
            self.sel.register(s, selectors.EVENT_READ, p)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while not self.stop.is_set():
                for key, data in readable(self.sel, 0.2):
                    p: SseParser = key.data
                    self.bytes += len(data)
                    p.feed(data, time.monotonic())
                    if p.eof:
                        self.sel.unregister(key.fileobj)
        except BaseException as e:      # reported by the test
            self.error = e

    def close(self):
        self.stop.set()
        self.thread.join(10)
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        self.sel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
