"""Server-Sent Events (SetHandler taskboard-events): one event per new revision of the board,
naming the stores the revision changed, read by one poller thread per httpd process from the
change journal (TaskBoardJournal).

- the stream's frame: headers, "retry", "ready" with the current revision (at once, also for
  the first subscriber of a process), 405/OPTIONS
- one event per sync that changed something, with exactly the stores it changed; none for a sync
  that changed nothing; "reload" for a revision raised by an outside writer or a board that went
  back
- two nodes on one database: a subscriber of one node gets the syncs of the other
- resuming with Last-Event-ID: from the process's memory, from the journal (no subscriber kept
  the memory, or httpd was restarted), and across an outside write
- heartbeats and the stream's lifetime
- fan-out: 200 subscribers, and the journal is read once per process and interval, not per
  subscriber (MariaDB's general log counts the statements)
- graceful restart, graceful stop and stop end the open streams (within about a poll interval)

The streams are read with sse.py (raw sockets, HTTP/1.1 chunked), because each event must be
seen with the time it arrived.  Every class loads the sample data again before and after.
"""

import itertools
import json
import os
import time

import pymysql
import requests

import procfs
import sse
import storm
import tbtest
from tbtest import describe

SAMPLE = tbtest.sample_test_conf()
# The stores of the sample board in the order of its configuration (the events name them so).
STORES = list(tbtest.parse_board(SAMPLE).stores)
POLL_S = 0.2
# The suites here load sql/sample.sql again (the revision goes back to 1): no load cache.
# Heartbeats every 500 ms: a server notices a client that went away when it writes to it, and
# tests that need the feed of a process to forget the board wait for that (ended_on_server).
# Every stream here comes from one address, and a closed one holds its slot until the server
# notices (up to 2 s): more streams per client than the defaults (half the 16 threads, half of
# that per client; test_840 tests the limits).
CONF = (SAMPLE + f"TaskBoardEventsPoll {int(POLL_S * 1000)}ms\n" + tbtest.CACHE_OFF_CONF
        + "TaskBoardEventsMaxStreams 12 12\n"
        + "<Location /api/events>\n    TaskBoardEventsHeartbeat 500ms\n</Location>\n")

# How long an event may take from the sync's answer to the subscriber: a poll interval, plus
# generous slack for a loaded two-core machine.
EVENT_WAIT = 10

_weights = itertools.count(10_000)
_rids = itertools.count(670_000)


# ------------------------------------------------------------------------------------------------
# Syncs and what their events must say

def sync(h: tbtest.Httpd, changes: dict, session=None) -> int:
    """A sync through node h that must succeed; returns the revision it answered."""
    pkg = {"type": "sync", "requestId": next(_rids), **changes}
    if session is not None:
        r = session.post(h.url("/api/sync"), json=pkg, timeout=30,
                         headers={"X-TB-Test": h.env.current_test or "-"})
    else:
        r = tbtest.sync_post(h, pkg)
    assert r.status_code == 200, describe(r)
    return tbtest.json_body(r)["revision"]


def move(h, task_id: int = 1, session=None) -> int:
    """A card moved (a new weight each time, so the row always changes)."""
    return sync(h, {"tasks": {"updated": [{"id": task_id, "weight": next(_weights)}]}}, session)


def add_pair(h, session=None) -> int:
    """A card with an assignment, added together."""
    n = next(_weights)
    return sync(h, {"tasks": {"added": [{"$PhantomId": f"t{n}", "name": f"card {n}"}]},
                    "assignments": {"added": [{"$PhantomId": f"a{n}", "eventId": f"t{n}",
                                               "resourceId": 1}]}}, session)


def expect_event(block: sse.Block, revision: int, stores, reload: bool = False):
    """An unnamed event for `revision`, exactly as the server must write it."""
    assert block is not None, f"no event for revision {revision}"
    want = {"revision": revision, "stores": list(stores)}
    if reload:
        want["reload"] = True
    assert [f for f, _ in block.lines] == ["id", "data"], block
    assert block.id == str(revision), f"id {block.id!r}, expected {revision}: {block}"
    assert tbtest.strict_equal(block.json(), want), f"{block}, expected data {want}"


def expect_ready(s: sse.SseStream, revision: int):
    """The start of a new subscriber's stream: retry, then ready with the current revision."""
    assert s.status == 200, s.p.status_line
    b = s.next(EVENT_WAIT)
    assert b is not None and b.lines == [("retry", "2000")], b
    b = s.next(EVENT_WAIT)
    assert b is not None and b.lines == [("id", str(revision)), ("event", "ready"),
                                         ("data", json.dumps({"revision": revision},
                                                             separators=(",", ":")))], b


def expect_resume_start(s: sse.SseStream):
    """A reconnect's stream starts with retry and no ready event."""
    assert s.status == 200, s.p.status_line
    b = s.next(EVENT_WAIT)
    assert b is not None and b.lines == [("retry", "2000")], b


def expect_quiet(s: sse.SseStream, seconds: float = 5 * POLL_S + 0.2):
    extra = s.quiet(seconds)
    assert not extra, f"unexpected events: {extra}"


def ended_on_server(h: tbtest.Httpd, *tags: str):
    """Waits until node h finished the streams sent with these X-TB-Test tags (their access log
    lines are written).  A server sees that a client went away only when it writes to it: the
    heartbeat of the configuration in use here (500 ms) makes sure that it does."""
    tbtest.poll(lambda: all(sse.request_logged(h, t) for t in tags), 10,
                what=f"the server done with the streams {tags}")


def streams_logged(h: tbtest.Httpd, tag: str) -> int:
    """How many event streams sent with X-TB-Test: tag node h has finished (access log)."""
    try:
        with open(os.path.join(h.root, "logs", "access_log"), errors="replace") as f:
            return sum(1 for ln in f
                       if '"GET /api/events' in ln and ln.rstrip().endswith(f'"{tag}"'))
    except OSError:
        return 0


def revision(db) -> int:
    return int(db.scalar("SELECT `value` FROM `options` WHERE `name` = 'revision'"))


# ------------------------------------------------------------------------------------------------
# MariaDB's general log, as root over the socket

def root_conn(env):
    return pymysql.connect(unix_socket=os.path.join(env.state_dir, "mariadb", "mysqld.sock"),
                           user="root", password="", autocommit=True, connect_timeout=5)


def connections_per_child(h: tbtest.Httpd) -> dict:
    """{child pid: its established client connections on h's port}, read from /proc (the
    sockets of each child against /proc/net/tcp); {} when /proc does not tell."""
    counts = procfs.established(h.port, procfs.children(h.pid()))
    return {} if None in counts.values() else counts


class GeneralLog:
    """`with GeneralLog(env) as log:` logs every statement to mysql.general_log meanwhile;
    log.executed(since, until, like) lists the prepared statements executed (their text with the
    values) between two times of the database's clock (log.now()).  Afterwards the log is
    switched off and emptied."""

    def __init__(self, env):
        self.env = env

    def __enter__(self):
        self.c = root_conn(self.env)
        with self.c.cursor() as cur:
            cur.execute("SELECT @@global.log_output, @@global.general_log")
            self.saved = cur.fetchone()
            cur.execute("TRUNCATE mysql.general_log")
            cur.execute("SET GLOBAL log_output = 'TABLE'")
            cur.execute("SET GLOBAL general_log = ON")
        return self

    def now(self):
        with self.c.cursor() as cur:
            cur.execute("SELECT NOW(6)")
            return cur.fetchone()[0]

    def executed(self, since, until, like: str = "%taskboard_journal%"):
        with self.c.cursor() as cur:
            cur.execute("SELECT event_time, thread_id, CONVERT(argument USING utf8mb4) "
                        "FROM mysql.general_log WHERE command_type = 'Execute' "
                        "AND event_time >= %s AND event_time <= %s AND argument LIKE %s "
                        "ORDER BY event_time", (since, until, like))
            return list(cur.fetchall())

    def __exit__(self, *exc):
        try:
            with self.c.cursor() as cur:
                cur.execute("SET GLOBAL general_log = OFF")
                cur.execute("TRUNCATE mysql.general_log")
                cur.execute("SET GLOBAL log_output = %s", (self.saved[0],))
                cur.execute(f"SET GLOBAL general_log = {int(self.saved[1])}")
        finally:
            self.c.close()
        return False


# The journal reads of a resume (tb_journal_since's statement), told apart from the poller's
# statement (UNION ALL) and the syncs' INSERTs.
RESUME_READ = "SELECT `revision`, `tbl`, `record_id`, `operation` FROM `taskboard_journal`%"
POLL_READ = "%UNION ALL%FROM `taskboard_journal`%"


# ------------------------------------------------------------------------------------------------

class TestEvents:
    """One node, the sample configuration, a poll every 200 ms."""

    CONF = CONF
    SAMPLE_DATA = ("started", "teardown")

    def test_tb_670_01(self, httpd, db):
        # a new subscriber: 200, text/event-stream, not cached, not compressed (even when the
        # client accepts gzip), streamed in chunks; "retry: 2000", then "ready" with the
        # database's current revision as id and data, then nothing while nothing changes
        rev = revision(db)
        with sse.SseStream(httpd, headers={"Accept-Encoding": "gzip"}) as s:
            assert s.status == 200, s.p.status_line
            ctype = s.headers.get("content-type", "")
            assert ctype.split(";")[0].strip() == "text/event-stream", s.headers
            assert s.headers.get("cache-control") == "no-cache", s.headers
            assert "content-encoding" not in s.headers, s.headers
            assert "content-length" not in s.headers, s.headers
            assert s.p.chunked, s.headers
            expect_ready(s, rev)
            expect_quiet(s)
            assert not s.closed
        # a Last-Event-ID that is not a revision of the board (ahead of it, or no number) is a
        # new subscriber; the current revision is a reconnect that missed nothing
        for last in (rev + 1, rev + 1000, "abc", "-1", ""):
            with sse.SseStream(httpd, last_event_id=last) as s:
                expect_ready(s, rev)
        with sse.SseStream(httpd, last_event_id=rev) as s:
            expect_resume_start(s)
            expect_quiet(s)
            r = move(httpd)
            expect_event(s.next_event(EVENT_WAIT), r, ["tasks"])

    def test_tb_670_02(self, httpd):
        # methods: only GET streams; OPTIONS names GET; others 405 with the JSON error shape
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            r = httpd.request(method, "/api/events", data=b"{}",
                              headers={"Content-Type": "application/json"})
            tbtest.check_error(r, 405, kind="events")
            assert r.headers.get("Allow") == "GET, OPTIONS", describe(r)
        r = httpd.request("OPTIONS", "/api/events")
        assert r.status_code == 200, describe(r)
        assert r.headers.get("Allow") == "GET, OPTIONS", describe(r)

    def test_tb_670_03(self, httpd, db):
        # each sync that changes the board: exactly one event, its id the revision the sync
        # answered (and the database holds), naming exactly the stores the sync changed
        with sse.SseStream(httpd) as s:
            expect_ready(s, revision(db))
            r = move(httpd, 2)
            assert r == revision(db)
            expect_event(s.next_event(EVENT_WAIT), r, ["tasks"])
            r = add_pair(httpd)
            expect_event(s.next_event(EVENT_WAIT), r, ["tasks", "assignments"])
            r = sync(httpd, {"resources": {"updated": [{"id": 2, "role": "Lead designer"}]}})
            expect_event(s.next_event(EVENT_WAIT), r, ["resources"])
            r = sync(httpd, {"swimlanes": {"updated": [{"id": "low", "color": "gray"}]},
                             "columns": {"updated": [{"id": "todo", "text": "Later"}]}})
            expect_event(s.next_event(EVENT_WAIT), r, ["columns", "swimlanes"])
            r = sync(httpd, {"assignments": {"updated": [{"id": 3, "units": 50}]}})
            expect_event(s.next_event(EVENT_WAIT), r, ["assignments"])
            # removing a card removes its assignments with it (ON DELETE CASCADE): both stores
            assert db.scalar("SELECT COUNT(*) FROM assignments WHERE event = 5") > 0
            r = sync(httpd, {"tasks": {"removed": [{"id": 5}]}})
            expect_event(s.next_event(EVENT_WAIT), r, ["tasks", "assignments"])
            expect_quiet(s)

    def test_tb_670_04(self, httpd, db):
        # syncs that change nothing (empty; removing a card that is gone; the same value again)
        # raise no revision and send no event; the next change is the next revision, no gap
        with sse.SseStream(httpd) as s:
            rev = revision(db)
            expect_ready(s, rev)
            cur = db.scalar("SELECT weight FROM tasks WHERE id = 1")
            for changes in ({}, {"tasks": {}},
                            {"tasks": {"removed": [{"id": 999999}]}},
                            {"tasks": {"updated": [{"id": 1, "weight": cur}]}}):
                assert sync(httpd, changes) == rev, changes
            expect_quiet(s)
            assert revision(db) == rev
            r = move(httpd)
            assert r == rev + 1
            expect_event(s.next_event(EVENT_WAIT), r, ["tasks"])

    def test_tb_670_05(self, httpd, db):
        # a revision raised by an outside writer has no journal rows: an event that names every
        # store with "reload": true; syncs around it are told as usual
        with sse.SseStream(httpd) as s:
            expect_ready(s, revision(db))
            r1 = move(httpd)
            expect_event(s.next_event(EVENT_WAIT), r1, ["tasks"])
            db.execute("UPDATE tasks SET name = 'written outside' WHERE id = 1")
            r2 = revision(db)
            assert r2 == r1 + 1
            expect_event(s.next_event(EVENT_WAIT), r2, STORES, reload=True)
            r3 = move(httpd)
            assert r3 == r2 + 1
            expect_event(s.next_event(EVENT_WAIT), r3, ["tasks"])
            expect_quiet(s)

    def test_tb_670_06(self, httpd, db):
        # several revisions within one poll, and several subscribers: every subscriber gets one
        # event per revision, in order, none merged or left out
        streams = [sse.SseStream(httpd) for _ in range(3)]
        try:
            rev = revision(db)
            for s in streams:
                expect_ready(s, rev)
            with requests.Session() as session:
                revs = [move(httpd, 1 + i % 4, session) if i % 3 else add_pair(httpd, session)
                        for i in range(12)]
            assert revs == list(range(rev + 1, rev + 13)), revs
            for s in streams:
                got = s.events(12, EVENT_WAIT)
                for i, (b, r) in enumerate(zip(got, revs)):
                    expect_event(b, r, ["tasks"] if i % 3 else ["tasks", "assignments"])
            for s in streams:
                expect_quiet(s, 0.5)
        finally:
            for s in streams:
                s.close()

    def test_tb_670_07(self, env, httpd, db):
        # the board goes back (restored from a backup: here the sample data, revision 1): a
        # reload event with the board's revision, then events from there on
        with sse.SseStream(httpd) as s:
            expect_ready(s, revision(db))
            r = move(httpd)
            assert r > 1
            expect_event(s.next_event(EVENT_WAIT), r, ["tasks"])
            env.db_load()
            assert revision(db) == 1
            expect_event(s.next_event(EVENT_WAIT), 1, STORES, reload=True)
            r = move(httpd)
            assert r == 2
            expect_event(s.next_event(EVENT_WAIT), r, ["tasks"])
            expect_quiet(s)


    def test_tb_670_08(self, env, httpd, db):
        # a new subscriber gets "ready" at once (the poller is woken for it and reads the
        # revision): on a freshly started server, and when every earlier subscriber of the
        # process has gone, so that the board's feed starts afresh.  Under a poll interval of
        # 10 s, so that only the wake-up can explain a quick first block.
        long_poll = 10
        httpd.reload(CONF.replace(f"TaskBoardEventsPoll {int(POLL_S * 1000)}ms",
                                  f"TaskBoardEventsPoll {long_poll}s"))
        try:
            waits = []
            for i in range(3):
                tag = f"{env.current_test}-{i}"
                t0 = time.monotonic()
                with sse.SseStream(httpd, tag=tag) as s:
                    expect_ready(s, revision(db))
                    waits.append(round(s.blocks[1].t - t0, 3))
                ended_on_server(httpd, tag)
            # a reconnect with Last-Event-ID to a process without subscribers likewise
            rev = revision(db)
            r = move(httpd)
            t0 = time.monotonic()
            with sse.SseStream(httpd, last_event_id=rev) as s:
                expect_resume_start(s)
                expect_event(s.next_event(EVENT_WAIT), r, ["tasks"])
                waits.append(round(s.blocks[1].t - t0, 3))
            assert max(waits) <= long_poll / 4, f"seconds until the first block: {waits}"
        finally:
            httpd.reload(CONF)


class TestEventsTwoNodes:
    """Two httpd nodes (the `httpd` fixture is node A) on one database, same configuration."""

    CONF = CONF
    SAMPLE_DATA = ("started", "teardown")

    @classmethod
    def prepare_class(cls, node2):
        node2.reload(CONF)

    def test_tb_670_10(self, httpd, node2, db):
        # a subscriber on each node: the syncs made through node B (and some through A) reach
        # both, in order, each revision exactly once, with its stores
        a, b = sse.SseStream(httpd), sse.SseStream(node2)
        try:
            rev = revision(db)
            expect_ready(a, rev)
            expect_ready(b, rev)
            made = []
            with requests.Session() as sb, requests.Session() as sa:
                for i in range(24):
                    via, sess = (httpd, sa) if i % 6 == 5 else (node2, sb)
                    if i % 4 == 3:
                        made.append((add_pair(via, sess), ["tasks", "assignments"]))
                    else:
                        made.append((move(via, 1 + i % 5, sess), ["tasks"]))
            assert [r for r, _ in made] == list(range(rev + 1, rev + 25)), made
            for s in (a, b):
                got = s.events(len(made), EVENT_WAIT)
                for blk, (r, stores) in zip(got, made):
                    expect_event(blk, r, stores)
                expect_quiet(s, 0.5)
        finally:
            a.close()
            b.close()

    def missed(self, node2, n: int = 4):
        """n syncs through node B; their (revision, stores)."""
        out = []
        for i in range(n):
            if i % 2:
                out.append((add_pair(node2), ["tasks", "assignments"]))
            else:
                out.append((move(node2, 1 + i), ["tasks"]))
        return out

    def check_resume(self, s: sse.SseStream, made):
        expect_resume_start(s)
        got = s.events(len(made), EVENT_WAIT)
        for blk, (r, stores) in zip(got, made):
            expect_event(blk, r, stores)

    def test_tb_670_11(self, env, httpd, node2, db):
        # resume from node A's memory: another subscriber keeps the board's feed in A, the
        # client drops its connection, misses 4 syncs made through B and reconnects with the
        # last id it saw: exactly the 4 events, in order, then live ones; no journal read
        with sse.SseStream(httpd) as keeper:
            rev = revision(db)
            expect_ready(keeper, rev)
            with sse.SseStream(httpd) as s:
                expect_ready(s, rev)
            made = self.missed(node2)
            for blk, (r, stores) in zip(keeper.events(len(made), EVENT_WAIT), made):
                expect_event(blk, r, stores)
            with GeneralLog(env) as log:
                t0 = log.now()
                with sse.SseStream(httpd, last_event_id=rev) as s:
                    self.check_resume(s, made)
                    t1 = log.now()
                    live = move(node2)
                    expect_event(s.next_event(EVENT_WAIT), live, ["tasks"])
                    expect_quiet(s)
                reads = log.executed(t0, t1, RESUME_READ)
            assert reads == [], f"the resume read the journal: {reads}"
            # one that missed only the last of them
            with sse.SseStream(httpd, last_event_id=made[-1][0]) as s:
                expect_resume_start(s)
                expect_event(s.next_event(EVENT_WAIT), live, ["tasks"])
                expect_quiet(s)

    def test_tb_670_12(self, env, httpd, node2, db):
        # resume from the journal: no other subscriber on A, so its feed forgot the board; the
        # missed revisions are read from the journal (one statement), then it goes on live
        tag = f"{env.current_test}-dropped"
        with sse.SseStream(httpd, tag=tag) as s:
            rev = revision(db)
            expect_ready(s, rev)
        made = self.missed(node2, 5)
        ended_on_server(httpd, tag)
        with GeneralLog(env) as log:
            t0 = log.now()
            with sse.SseStream(httpd, last_event_id=rev) as s:
                self.check_resume(s, made)
                t1 = log.now()
                live = add_pair(node2)
                expect_event(s.next_event(EVENT_WAIT), live, ["tasks", "assignments"])
                expect_quiet(s)
            reads = log.executed(t0, t1, RESUME_READ)
        assert len(reads) == 1, f"journal reads of the resume: {reads}"

    def test_tb_670_13(self, httpd, node2, db):
        # resume after node A was restarted (its memory is gone): from the journal
        with sse.SseStream(httpd) as s:
            rev = revision(db)
            expect_ready(s, rev)
        httpd.restart()
        made = self.missed(node2, 3)
        with sse.SseStream(httpd, last_event_id=rev) as s:
            self.check_resume(s, made)
            live = move(node2)
            expect_event(s.next_event(EVENT_WAIT), live, ["tasks"])
            expect_quiet(s)

    def test_tb_670_14(self, env, httpd, node2, db):
        # resume across an outside write (a revision without journal rows): from memory, each
        # revision as it was told live (the outside one as reload); from the journal, which
        # cannot tell, one reload event with the current revision, then live
        tags = [f"{env.current_test}-keeper", f"{env.current_test}-resumed"]
        with sse.SseStream(httpd, tag=tags[0]) as keeper:
            rev = revision(db)
            expect_ready(keeper, rev)
            r1 = move(node2)
            db.execute("UPDATE tasks SET name = 'outside' WHERE id = 2")
            r2 = revision(db)
            r3 = add_pair(node2)
            assert (r1, r2, r3) == (rev + 1, rev + 2, rev + 3)
            told = [(r1, ["tasks"], False), (r2, STORES, True), (r3, ["tasks", "assignments"],
                                                                  False)]
            for blk, (r, stores, reload) in zip(keeper.events(3, EVENT_WAIT), told):
                expect_event(blk, r, stores, reload)
            with sse.SseStream(httpd, last_event_id=rev, tag=tags[1]) as s:
                expect_resume_start(s)
                for blk, (r, stores, reload) in zip(s.events(3, EVENT_WAIT), told):
                    expect_event(blk, r, stores, reload)
                expect_quiet(s, 0.5)
        # no subscriber left on A: from the journal
        ended_on_server(httpd, *tags)
        with sse.SseStream(httpd, last_event_id=rev) as s:
            expect_resume_start(s)
            expect_event(s.next_event(EVENT_WAIT), r3, STORES, reload=True)
            expect_quiet(s, 0.5)
            r4 = move(node2)
            expect_event(s.next_event(EVENT_WAIT), r4, ["tasks"])
        # a resume that starts after the outside write is answered from the journal exactly
        with sse.SseStream(httpd, last_event_id=r2) as s:
            expect_resume_start(s)
            got = s.events(2, EVENT_WAIT)
            expect_event(got[0], r3, ["tasks", "assignments"])
            expect_event(got[1], r4, ["tasks"])
            expect_quiet(s, 0.5)


class TestEventsHeartbeat:
    """TaskBoardEventsHeartbeat 300ms, TaskBoardEventsLifetime 2s."""

    CONF = CONF + """
<Location /api/events>
    TaskBoardEventsHeartbeat 300ms
    TaskBoardEventsLifetime 2s
</Location>
"""
    SAMPLE_DATA = ("started", "teardown")

    def test_tb_670_20(self, httpd, db):
        # a quiet stream gets a ":" comment after each 300 ms of silence, and the server ends
        # it (the last chunk) 2 s after it began (with "ready"); no heartbeat follows an event
        # sooner than 300 ms
        rev = revision(db)
        with sse.SseStream(httpd) as s:
            expect_ready(s, rev)
            t_open = s.blocks[1].t
            assert s.wait_closed(2 + 3), "the stream was not ended"
            t_end = time.monotonic()
            assert s.p.ended and not s.p.bad, "the stream did not end with the last chunk"
            blocks = s.blocks[2:]
            assert blocks and all(b.lines == [("", "")] for b in blocks), blocks
            assert 3 <= len(blocks) <= 7, f"{len(blocks)} heartbeats in 2 s at 300 ms"
            times = [s.blocks[1].t] + [b.t for b in blocks]
            gaps = [round(y - x, 3) for x, y in zip(times, times[1:])]
            assert all(0.2 <= g <= 1.2 for g in gaps), gaps
            # (the server spreads the ends of streams over the last tenth of their lifetime)
            assert 1.7 <= t_end - t_open <= 2 + 1.5, f"ended after {t_end - t_open:.2f} s"
        # with an event in the middle: heartbeats only after 300 ms of silence, and the same
        # lifetime
        with sse.SseStream(httpd) as s:
            expect_ready(s, rev)
            assert not s.quiet(0.7)     # (reading, so that each block's time is its arrival)
            r = move(httpd)
            assert s.wait_closed(2 + 3), "the stream was not ended"
            assert s.p.ended
            kinds = [("event" if b.is_event else "beat") for b in s.blocks[2:]]
            events = [b for b in s.blocks[2:] if b.is_event]
            assert len(events) == 1, kinds
            expect_event(events[0], r, ["tasks"])
            times = [b.t for b in s.blocks[1:]]
            gaps = [round(y - x, 3) for x, y in zip(times, times[1:])]
            beats_gaps = [g for g, b in zip(gaps, s.blocks[2:]) if b.comment]
            assert all(g >= 0.2 for g in beats_gaps), (kinds, gaps)
            assert time.monotonic() - s.blocks[1].t <= 2 + 1.5
        # the browser reconnects with the last id: what happened meanwhile, then live
        r2 = move(httpd)
        with sse.SseStream(httpd, last_event_id=r) as s:
            expect_resume_start(s)
            expect_event(s.next_event(EVENT_WAIT), r2, ["tasks"])


FANOUT_SUBSCRIBERS = 200
FANOUT_POLL_S = 0.5
FANOUT_WINDOW_S = 4.0
# Both processes take connections from one listening socket, so either may get all 200
# subscribers (one address): each process must be able to serve them all, or the ones past its
# TaskBoardEventsMaxStreams get 503 (seen once: 165 of them to one process of 160 threads).
FANOUT_MPM = """\
StartServers 2
ServerLimit 2
ThreadLimit 256
ThreadsPerChild 256
MinSpareThreads 10
MaxSpareThreads 512
MaxRequestWorkers 512
TaskBoardEventsMaxStreams 255 255
"""


class TestEventsFanout:
    """200 subscribers on one node of two processes, a poll every 500 ms."""

    CONF = (SAMPLE + f"TaskBoardEventsPoll {int(FANOUT_POLL_S * 1000)}ms\n"
            + tbtest.CACHE_OFF_CONF + FANOUT_MPM
            + "<Location /api/events>\n    TaskBoardEventsHeartbeat 2s\n</Location>\n")

    SAMPLE_DATA = ("started", "teardown")

    @classmethod
    def cleanup_class(cls, httpd):
        # The streams of the clients that went away end at their next heartbeat (2 s): the
        # server stops once they have.  Stopped with them still open, a child died in httpd's
        # own code (fresh-clone CI, the core's main thread in close_worker_sockets, 85 streams
        # waiting): the event MPM, stopping a child, reads the socket of each busy worker without
        # a lock, and a stream that ends at that moment (its heartbeat failing) has its socket's
        # memory freed under that read.  Nothing of the module's takes part in that read.
        def open_streams():
            counts = procfs.connections(httpd.port, procfs.children(httpd.pid()))
            return sum(n or 0 for n in counts.values())
        t0, before = time.monotonic(), open_streams()
        tbtest.poll(lambda: open_streams() == 0, 20, what="the closed clients' streams ended")
        print(f"\n[670 fan-out] {before} streams of closed clients still open after the "
              f"tests, ended {time.monotonic() - t0:.1f} s later")
        httpd.stop()

    def test_tb_670_30(self, env, httpd, db):
        # while 200 subscribers listen and a writer syncs, the journal is read at most once per
        # process and poll interval (+2), not once per subscriber; every subscriber gets every
        # revision exactly once, in order
        n = FANOUT_SUBSCRIBERS
        rev0 = revision(db)
        with sse.SseFanout(httpd, n) as fan:
            tbtest.poll(lambda: all(len(c.blocks) >= 2 for c in fan.clients) or fan.error,
                        30, what=f"{n} subscribers ready")
            ready_s = round(max(c.blocks[1].t for c in fan.clients) - fan.t_open, 2)
            assert fan.error is None, fan.error
            for c in fan.clients:
                assert c.status == 200 and c.blocks[1].event == "ready", c.blocks[:2]
                assert c.blocks[1].id == str(rev0), c.blocks[1]
            children = procfs.children(httpd.pid())
            per_child = connections_per_child(httpd)
            # the processes that serve subscribers (all children, if /proc cannot tell)
            processes = len([p for p, k in per_child.items() if k]) or len(children)
            revs = []
            with GeneralLog(env) as log:
                time.sleep(0.2)
                t0 = log.now()
                m0 = time.monotonic()
                with requests.Session() as session:
                    while time.monotonic() - m0 < FANOUT_WINDOW_S:
                        revs.append(move(httpd, 1 + len(revs) % 5, session))
                        time.sleep(0.05)
                t1 = log.now()
                m1 = time.monotonic()
                journal = log.executed(t0, t1)
            window = (t1 - t0).total_seconds()
            assert revs == list(range(rev0 + 1, rev0 + 1 + len(revs))), revs
            last = str(revs[-1])

            def all_done():
                return fan.error or all(
                    any(b.id == last for b in c.blocks[-3:]) or c.closed for c in fan.clients)
            tbtest.poll(all_done, 30, what="every subscriber at the last revision")
            assert fan.error is None, fan.error
            t_last = max(c.blocks[-1].t for c in fan.clients)
            for i, c in enumerate(fan.clients):
                assert not c.closed, f"subscriber {i} was closed"
                got = sse.event_ids(c.blocks[2:])
                if got != revs:
                    k = next((k for k, (x, y) in enumerate(zip(got, revs)) if x != y),
                             min(len(got), len(revs)))
                    raise AssertionError(f"subscriber {i}: {len(got)} events for {len(revs)} "
                                         f"revisions; from index {k}: got {got[k:k + 5]}, "
                                         f"expected {revs[k:k + 5]}")
                for b in c.blocks[2:]:
                    if b.is_event:
                        assert b.json()["stores"] == ["tasks"], b
        # the statements that read the journal: the poller's (UNION ALL), and nothing else but
        # the syncs' own writes (INSERT) and their pruning (once a minute per process)
        polls = [j for j in journal if "UNION ALL" in j[2]]
        other = [j for j in journal if "UNION ALL" not in j[2]
                 and not j[2].lstrip().upper().startswith(("INSERT", "DELETE"))
                 and "MAX(`revision`)" not in j[2]]
        bound = processes * (window / FANOUT_POLL_S + 2)
        events = n * len(revs)
        figures = {
            "subscribers": n, "processes": processes, "window_s": round(window, 2),
            "revisions": len(revs), "events_delivered": events,
            "events_per_s": round(events / (t_last - m0), 1),
            "journal_polls": len(polls), "journal_polls_per_s": round(len(polls) / window, 2),
            "bound": bound, "poll_connections": len({j[1] for j in polls}),
            "streams_per_process": sorted(per_child.values()), "all_ready_s": ready_s,
        }
        print("\n[670 fan-out] " + json.dumps(figures, sort_keys=True))
        assert not other, f"other journal reads during the window: {other[:5]}"
        assert polls, "no poll of the journal was logged"
        assert len(polls) <= bound, figures
        assert len(polls) < n, figures
        assert m1 - m0 < FANOUT_WINDOW_S + 5
        # the server done with the closed streams (within a heartbeat): they hold their slots
        # of TaskBoardEventsMaxStreams until then, and the next test opens more
        tbtest.poll(lambda: streams_logged(httpd, env.current_test) >= n, 15,
                    what=f"the server done with the {n} streams")


    def test_tb_670_31(self, env, httpd, db):
        # browsers that come and go (reloads, reconnects) do not make a process poll more often
        # than its interval: a new subscriber to a board the process follows is answered from
        # memory; only the first one after none asks for a poll at once
        rev0 = revision(db)
        with sse.SseFanout(httpd, 60) as fan:
            tbtest.poll(lambda: all(len(c.blocks) >= 2 for c in fan.clients) or fan.error,
                        30, what="60 subscribers ready")
            assert fan.error is None, fan.error
            churn = 0
            with GeneralLog(env) as log:
                time.sleep(0.2)
                t0 = log.now()
                m0 = time.monotonic()
                while time.monotonic() - m0 < FANOUT_WINDOW_S:
                    with sse.SseStream(httpd) as s:
                        expect_ready(s, rev0)
                    churn += 1
                    time.sleep(0.02)    # (a closed stream keeps its worker up to 2 s)
                t1 = log.now()
                journal = log.executed(t0, t1)
        window = (t1 - t0).total_seconds()
        polls = [j for j in journal if "UNION ALL" in j[2]]
        # Every process polls: the one that holds the 60 subscribers, and the other too, where
        # the reconnects land when the 60 all went to one (either may take every connection),
        # and whose subscribers overlap (a closed stream is noticed within 2 s).
        processes = len(procfs.children(httpd.pid()))
        bound = processes * (window / FANOUT_POLL_S + 2)
        print(f"\n[670 churn] {churn} subscribers came and went in {window:.2f} s: "
              f"{len(polls)} polls (bound {bound:.1f})")
        assert churn > 2 * bound, f"too few reconnects to tell: {churn}"
        assert len(polls) <= bound, (len(polls), bound)


GRACEFUL_MPM = """\
StartServers 2
ServerLimit 6
ThreadsPerChild 8
MinSpareThreads 4
MaxSpareThreads 24
MaxRequestWorkers 24
TaskBoardEventsMaxStreams 7 7
"""


class TestEventsGraceful:
    """A stopping process ends its streams within about a poll interval (500 ms)."""

    CONF = (SAMPLE + "TaskBoardEventsPoll 500ms\n" + tbtest.CACHE_OFF_CONF + GRACEFUL_MPM)

    SAMPLE_DATA = ("started", "teardown")

    @classmethod
    def cleanup_class(cls, httpd):
        # a test that failed while it had the server stopped leaves none
        if httpd.pid() is None:
            httpd.start()

    def test_tb_670_40(self, httpd, db):
        # graceful restart: every open stream ends (the last chunk, not a reset) within a
        # poll interval and a margin, the old children go, and the clients resume on the new
        # generation with Last-Event-ID, missing nothing
        parent = httpd.pid()
        rev = revision(db)
        streams = [sse.SseStream(httpd) for _ in range(6)]
        try:
            for s in streams:
                expect_ready(s, rev)
            old = procfs.children(parent)
            t0 = time.monotonic()
            storm.apache_signal(httpd, "graceful")
            for s in streams:
                assert s.wait_closed(0.5 + 4.5), "a stream outlived the graceful restart"
                assert s.p.ended and not s.p.bad, "the stream was cut, not ended"
            ended = time.monotonic() - t0
            tbtest.poll(lambda: procfs.children(parent) and not procfs.children(parent) & old,
                        30, what="the old generation of children gone")
            assert httpd.pid() == parent
        finally:
            for s in streams:
                s.close()
        r = move(httpd)
        with sse.SseStream(httpd, last_event_id=rev) as s:
            expect_resume_start(s)
            expect_event(s.next_event(EVENT_WAIT), r, ["tasks"])
            expect_quiet(s, 1.2)
        print(f"\n[670 graceful] streams ended {ended:.2f} s after the signal")

    def test_tb_670_41(self, httpd, db):
        # graceful stop waits for the requests in flight (without a GracefulShutdownTimeout):
        # the streams end, so the server is gone within seconds, not after their lifetime
        parent = httpd.pid()
        streams = [sse.SseStream(httpd) for _ in range(4)]
        try:
            for s in streams:
                expect_ready(s, revision(db))
            t0 = time.monotonic()
            storm.apache_signal(httpd, "graceful-stop")
            for s in streams:
                assert s.wait_closed(0.5 + 4.5), "a stream outlived the graceful stop"
                assert s.p.ended and not s.p.bad
                s.close()           # (or httpd lingers 2 s on the kept-alive connection)
            ended = time.monotonic() - t0
            tbtest.poll(lambda: not tbtest.pid_alive(parent), 10,
                        what=f"httpd {parent} gone after graceful-stop")
            gone = time.monotonic() - t0
        finally:
            for s in streams:
                s.close()
        httpd.start()
        print(f"\n[670 graceful-stop] streams ended {ended:.2f} s, server gone {gone:.2f} s "
              f"after the signal")

    def test_tb_670_42(self, httpd, db):
        # a plain stop (SIGTERM) with open streams: they end, and the server stops without
        # having to kill children that wait for a subscriber (no error lines)
        parent = httpd.pid()
        streams = [sse.SseStream(httpd) for _ in range(4)]
        try:
            for s in streams:
                expect_ready(s, revision(db))
            t0 = time.monotonic()
            httpd.stop()
            gone = time.monotonic() - t0
            assert not tbtest.pid_alive(parent)
            for s in streams:
                assert s.wait_closed(1), "a stream outlived the server"
        finally:
            for s in streams:
                s.close()
        httpd.start()
        assert gone < 0.5 + 4.5, f"the stop took {gone:.2f} s"
        print(f"\n[670 stop] server gone {gone:.2f} s after SIGTERM")

    def test_tb_670_43(self, httpd, db):
        # a client that closes its stream frees its worker within seconds, long before the next
        # heartbeat (20 s here) would find out: the module looks for the close while it waits
        tags = [f"closed-{i}-{time.monotonic_ns()}" for i in range(5)]
        rev = revision(db)
        streams = [sse.SseStream(httpd, tag=t) for t in tags]
        for s in streams:
            expect_ready(s, rev)
        t0 = time.monotonic()
        for s in streams:
            s.close()
        tbtest.poll(lambda: all(sse.request_logged(httpd, t) for t in tags), 8,
                    what="the server done with the closed streams")
        took = time.monotonic() - t0
        assert took < 6, f"the closed streams held their workers {took:.1f} s"
        print(f"\n[670 closed] workers freed {took:.2f} s after the clients closed")
