"""Event streams within bounds (issue 14, points 6 and 7, and the journal's table lists).

- streams per process and per client (address, or user when signed in): the excess gets 503 with
  Retry-After and the module's JSON error, and loads and syncs keep their workers; a stream that
  ends (client gone, lifetime over, graceful restart) gives its slot back
  (TaskBoardEventsMaxStreams, its defaults from ThreadsPerChild, and its checks at apache2 -t)
- one feed per board, whatever spelling of it the database takes for the same (a string
  TaskBoardScope over a case-insensitive column), and feeds that no stream uses are freed
- an event resumed from the journal names every store its revision changed, also a table whose
  name ends another's (`tasks` after `subtasks`)

The process's numbers come from the status handler (?json, "process"), so the classes here run one
httpd child (MaxRequestWorkers = ThreadsPerChild): the status request is answered by the process
that serves the streams.
"""

import base64
import json
import time
import urllib.parse

import pytest
import requests

import procfs
import sse
import storm
import tbtest
from tbtest import describe

SAMPLE = tbtest.sample_test_conf()
POLL_S = 0.2
STATUS = "<Location /tb-status>\n    SetHandler taskboard-status\n</Location>\n"
# One active child of 8 workers (ServerLimit 2 leaves room for the next generation of a graceful
# restart); a heartbeat every 500 ms, so that a client that went away is noticed soon.
MPM8 = """\
StartServers 1
ServerLimit 2
ThreadsPerChild 8
MinSpareThreads 1
MaxSpareThreads 8
MaxRequestWorkers 8
"""
BASE = (SAMPLE + f"TaskBoardEventsPoll {int(POLL_S * 1000)}ms\n" + tbtest.CACHE_OFF_CONF + STATUS
        + "<Location /api/events>\n    TaskBoardEventsHeartbeat 500ms\n</Location>\n")

EVENT_WAIT = 10


def status(httpd) -> dict:
    """The answering process's numbers (status JSON, "process")."""
    r = requests.get(httpd.url("/tb-status?json"), headers={"Connection": "close"}, timeout=10)
    assert r.status_code == 200, describe(r)
    return tbtest.jloads(r.text)["process"]


def wait_streams(httpd, n: int, timeout: float = 10):
    """Waits until the process counts n open streams (a closed client is noticed within about
    two seconds, a heartbeat or a check for the close)."""
    tbtest.poll(lambda: status(httpd)["eventStreams"] == n, timeout,
                what=f"{n} open event streams in the status")


def revision(db) -> int:
    return int(db.scalar("SELECT `value` FROM `options` WHERE `name` = 'revision'"))


def read_body(s: sse.SseStream, timeout: float = 10) -> bytes:
    """The whole body of a response that is not a stream (it has a Content-Length)."""
    n = int(s.headers.get("content-length", "-1"))
    assert n >= 0, f"no Content-Length: {s.headers}"
    deadline = time.monotonic() + timeout
    while len(s.p.body_text) < n and s._recv(deadline):
        pass
    assert len(s.p.body_text) >= n, f"{len(s.p.body_text)} of {n} body bytes"
    return s.p.body_text[:n]


def check_refused(s: sse.SseStream, why: str = None) -> dict:
    """503 with Retry-After (seconds) and the module's JSON error of the events handler."""
    assert s.status == 503, f"{s.p.status_line} {s.headers} {s.p.body_text[:300]!r}"
    retry = s.headers.get("retry-after", "")
    assert retry.isdigit() and 1 <= int(retry) <= 3600, s.headers
    ctype = s.headers.get("content-type", "")
    assert ctype.split(";")[0].strip() == "application/json", s.headers
    body = tbtest.jloads(read_body(s).decode("utf-8"))
    assert body["success"] is False and body["code"] == 503, body
    assert body["type"] == "events" and body["message"], body
    if why:
        assert why in body["message"], body
    return body


def expect_ready(s: sse.SseStream, rev=None):
    assert s.status == 200, f"{s.p.status_line} {s.p.body_text[:300]!r}"
    b = s.next(EVENT_WAIT)
    assert b is not None and b.retry == "2000", b
    b = s.next(EVENT_WAIT)
    assert b is not None and b.event == "ready", b
    if rev is not None:
        assert b.id == str(rev), b
    return int(b.id)


def load_ok(httpd):
    """A load answers (the timeout is a safety net: with every worker taken it would hang)."""
    q = urllib.parse.urlencode({"data": json.dumps({"type": "load", "requestId": 1})})
    r = requests.get(httpd.url(f"/api/load?{q}"), timeout=10,
                     headers={"X-TB-Test": httpd.env.current_test or "-"})
    assert r.status_code == 200, describe(r)
    return r


def move(httpd, weight: int) -> int:
    r = tbtest.sync_post(httpd, {"type": "sync", "requestId": weight,
                                 "tasks": {"updated": [{"id": 1, "weight": weight}]}})
    assert r.status_code == 200, describe(r)
    return tbtest.json_body(r)["revision"]


def close_all(streams):
    for s in streams:
        s.close()


# ------------------------------------------------------------------------------------------------

class TestDefaultLimits:
    """No TaskBoardEventsMaxStreams: a process of 8 workers serves at most 4 streams, 2 per
    client address."""

    CONF = BASE + MPM8
    SAMPLE_DATA = ("started", "teardown")

    def test_tb_840_01(self, httpd, db):
        # 12 streams from 6 addresses (2 each) against a process of 8 workers: 4 are served,
        # the other 8 get 503 with Retry-After at once; loads and syncs still get a worker, and
        # the 4 streams still get the syncs' events
        rev = revision(db)
        streams = []
        try:
            for i in range(12):
                streams.append(sse.SseStream(httpd, source=f"127.0.0.{11 + i // 2}"))
            served = [s for s in streams if s.status == 200]
            refused = [s for s in streams if s.status != 200]
            assert len(served) == 4, [s.status for s in streams]
            for s in served:
                expect_ready(s, rev)
            for s in refused:
                check_refused(s)
            st = status(httpd)
            assert (st["eventStreams"], st["eventStreamsMax"],
                    st["eventStreamsPerClient"]) == (4, 4, 2), st
            for _ in range(3):
                load_ok(httpd)
            r = move(httpd, 840_001)
            for s in served:
                b = s.next_event(EVENT_WAIT)
                assert b is not None and b.id == str(r), b
        finally:
            close_all(streams)

    def test_tb_840_02(self, httpd, db):
        # per address: a third stream of one address is refused while the process has room,
        # another address is still served
        wait_streams(httpd, 0)      # (the streams of the test before gone)
        streams = []
        try:
            for _ in range(2):
                streams.append(sse.SseStream(httpd, source="127.0.0.21"))
                expect_ready(streams[-1])
            with sse.SseStream(httpd, source="127.0.0.21") as s:
                check_refused(s, "client")
            streams.append(sse.SseStream(httpd, source="127.0.0.22"))
            expect_ready(streams[-1])
            assert status(httpd)["eventStreams"] == 3
        finally:
            close_all(streams)


class TestConfiguredLimits:
    """TaskBoardEventsMaxStreams 3 2; streams that end give their slot back."""

    CONF = (BASE + MPM8 + "TaskBoardEventsMaxStreams 3 2\n"
            + "<Location /api/short>\n    SetHandler taskboard-events\n"
            + "    TaskBoardEventsLifetime 1\n</Location>\n")
    SAMPLE_DATA = ("started", "teardown")

    @classmethod
    def cleanup_class(cls, httpd):
        # a test that failed while it had the server stopped leaves none
        if httpd.pid() is None:
            httpd.start()

    def test_tb_840_10(self, httpd, db):
        # the process limit (3) and the client limit (2); a stream whose client went away frees
        # its slot: a new one is then served, and the excess is refused again
        a = [sse.SseStream(httpd, source="127.0.0.31") for _ in range(2)]
        streams = list(a)
        try:
            for s in a:
                expect_ready(s)
            with sse.SseStream(httpd, source="127.0.0.31") as s:
                check_refused(s, "client")
            streams.append(sse.SseStream(httpd, source="127.0.0.32"))
            expect_ready(streams[-1])
            with sse.SseStream(httpd, source="127.0.0.33") as s:
                check_refused(s, "process")
            st = status(httpd)
            assert (st["eventStreams"], st["eventStreamsMax"],
                    st["eventStreamsPerClient"]) == (3, 3, 2), st
            load_ok(httpd)
            # the client goes away: its slot comes back once the server noticed
            a[0].close()
            wait_streams(httpd, 2)
            streams.append(sse.SseStream(httpd, source="127.0.0.33"))
            expect_ready(streams[-1])
            with sse.SseStream(httpd, source="127.0.0.34") as s:
                check_refused(s, "process")
        finally:
            close_all(streams)
        wait_streams(httpd, 0)

    def test_tb_840_11(self, httpd, db):
        # streams that end at the end of their lifetime (1 s) give their slots back: three more
        # are served after them, again and again
        for round_ in range(3):
            streams = [sse.SseStream(httpd, path="/api/short", source=f"127.0.0.{41 + i}")
                       for i in range(3)]
            try:
                for s in streams:
                    expect_ready(s)
                with sse.SseStream(httpd, path="/api/short", source="127.0.0.49") as s:
                    check_refused(s, "process")
                for s in streams:
                    assert s.wait_closed(1 + 5), f"round {round_}: the stream did not end"
                    assert s.p.ended, "the stream was cut, not ended"
            finally:
                close_all(streams)
            wait_streams(httpd, 0)

    def test_tb_840_12(self, httpd, db):
        # a graceful restart ends the streams; the new generation serves up to the limit again
        # and refuses the excess (the counts start afresh with the process)
        parent = httpd.pid()
        old = procfs.children(parent)
        streams = [sse.SseStream(httpd, source=f"127.0.0.{51 + i}") for i in range(3)]
        try:
            for s in streams:
                expect_ready(s)
            storm.apache_signal(httpd, "graceful")
            for s in streams:
                assert s.wait_closed(POLL_S + 5), "a stream outlived the graceful restart"
                assert s.p.ended
        finally:
            close_all(streams)
        tbtest.poll(lambda: procfs.children(parent) and not procfs.children(parent) & old,
                    30, what="the old generation of children gone")
        streams = [sse.SseStream(httpd, source=f"127.0.0.{51 + i}") for i in range(3)]
        try:
            for s in streams:
                expect_ready(s)
            with sse.SseStream(httpd, source="127.0.0.59") as s:
                check_refused(s, "process")
            assert status(httpd)["eventStreams"] == 3
        finally:
            close_all(streams)
        wait_streams(httpd, 0)


USERS = {"alice": "alice-pw", "bob": "bob-pw"}


def basic(user: str) -> dict:
    token = base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class TestPerUser:
    """Behind Basic auth the client is the user, not the address: TaskBoardEventsMaxStreams 6 2."""

    SAMPLE_DATA = ("started", "teardown")

    @classmethod
    def prepare_class(cls, httpd):
        path = tbtest.write_htpasswd(httpd, USERS, "htpasswd840")
        cls.CONF = (tbtest.auth_mods() + BASE + MPM8 + "TaskBoardEventsMaxStreams 6 2\n"
                    + "<Location /api/events>\n    AuthType Basic\n    AuthName board\n"
                    + f'    AuthUserFile "{path}"\n    Require valid-user\n</Location>\n')

    def test_tb_840_20(self, httpd, db):
        # alice's third stream is refused from any address; bob, from alice's address, is served
        streams = []
        try:
            for src in ("127.0.0.61", "127.0.0.62"):
                streams.append(sse.SseStream(httpd, source=src, headers=basic("alice")))
                expect_ready(streams[-1])
            with sse.SseStream(httpd, source="127.0.0.63", headers=basic("alice")) as s:
                check_refused(s, "client")
            for _ in range(2):
                streams.append(sse.SseStream(httpd, source="127.0.0.61", headers=basic("bob")))
                expect_ready(streams[-1])
            assert status(httpd)["eventStreams"] == 4
        finally:
            close_all(streams)
        wait_streams(httpd, 0)


class TestLimitConfig:
    """TaskBoardEventsMaxStreams is checked when the configuration is read."""

    @classmethod
    def prepare_class(cls, env):
        # a ServerRoot of its own, never started: only `apache2 -t` runs on it
        cls.cfg = env.new_httpd("cfgtest840")

    @pytest.mark.parametrize("case", [
        # (directive lines, accepted, what the error names)
        ("TaskBoardEventsMaxStreams 7 3\n", True, None),
        ("TaskBoardEventsMaxStreams 1\n", True, None),
        ("TaskBoardEventsMaxStreams 8\n", False, "TB00260"),
        ("TaskBoardEventsMaxStreams 100 1\n", False, "TB00260"),
        ("TaskBoardEventsMaxStreams 4 5\n", False, "per client"),
        ("TaskBoardEventsMaxStreams 0\n", False, "per process"),
        ("TaskBoardEventsMaxStreams many\n", False, "many"),
        ("<VirtualHost 127.0.0.1:9>\n    TaskBoardEventsMaxStreams 2\n</VirtualHost>\n", False,
         "main server"),
    ], ids=["ok", "ok-one", "all-threads", "above-threads", "client-above", "zero", "word",
            "in-vhost"])
    def test_tb_840_30(self, case):
        # accepted below ThreadsPerChild (8 here); refused naming the directive, the file and
        # the line otherwise
        lines, ok, token = case
        text = BASE + MPM8
        self.cfg.install(text + lines)
        rc, out = self.cfg.config_test()
        if ok:
            assert rc == 0, out
            return
        assert rc != 0 and "Syntax OK" not in out, out
        assert "TaskBoardEventsMaxStreams" in out and token in out, out
        line = len(text.splitlines()) + next(
            n for n, ln in enumerate(lines.splitlines(), start=1) if "MaxStreams" in ln)
        path = self.cfg.test_conf_path
        assert (f"{path}:{line}" in out or f"line {line} of {path}" in out), (line, out)


# ------------------------------------------------------------------------------------------------
# One feed per board, as the database compares boards

SCOPED_TABLES = ("e840_boards", "e840_tasks", "e840_journal")
SCOPED_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS `e840_boards` (`id` VARCHAR(100) NOT NULL, "
    "`revision` BIGINT NOT NULL DEFAULT 1, PRIMARY KEY (`id`)) ENGINE=InnoDB "
    "DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
    "CREATE TABLE IF NOT EXISTS `e840_tasks` (`id` INT NOT NULL AUTO_INCREMENT, "
    "`board` VARCHAR(100) NOT NULL, `name` VARCHAR(100) NOT NULL, PRIMARY KEY (`id`), "
    "KEY (`board`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
    "CREATE TABLE IF NOT EXISTS `e840_journal` (`board` VARCHAR(100) NOT NULL, "
    "`revision` BIGINT NOT NULL, `tbl` VARCHAR(64) NOT NULL, `record_id` VARCHAR(191) NOT NULL, "
    "`operation` VARCHAR(8) NOT NULL, `changed_at` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, "
    "PRIMARY KEY (`board`, `revision`, `tbl`, `record_id`), KEY (`changed_at`)) ENGINE=InnoDB "
    "DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
]
SCOPED_CONF = """
<Location /sb>
    TaskBoardScope board param=board string
    TaskBoardRevision e840_boards revision id
    TaskBoardJournal e840_journal
    <TaskBoardStore tasks>
        TaskBoardTable e840_tasks
        TaskBoardField name string required
    </TaskBoardStore>
</Location>
<Location /sb/sync>
    SetHandler taskboard-sync
</Location>
<Location /sb/events>
    SetHandler taskboard-events
    TaskBoardEventsHeartbeat 500ms
</Location>
"""
MPM64 = """\
StartServers 1
ServerLimit 2
ThreadsPerChild 64
MinSpareThreads 1
MaxSpareThreads 64
MaxRequestWorkers 64
TaskBoardEventsMaxStreams 60 60
"""

# 16 case variants of "team" with 0 to 18 trailing spaces: 304 spellings of one board for a
# column in utf8mb4_unicode_ci (case-insensitive, PAD SPACE); 300 of them
SPELLINGS = [("".join(c.upper() if (k >> i) & 1 else c for i, c in enumerate("team")) + " " * n)
             for n in range(19) for k in range(16)][:300]


def events_path(board: str) -> str:
    return "/sb/events?" + urllib.parse.urlencode({"board": board})


def scoped_sync(httpd, board: str, name: str) -> int:
    r = tbtest.sync_post(httpd, {"type": "sync", "requestId": 1,
                                 "tasks": {"added": [{"$PhantomId": "p", "name": name}]}},
                         path="/sb/sync?" + urllib.parse.urlencode({"board": board}))
    assert r.status_code == 200, describe(r)
    return tbtest.json_body(r)["revision"]


def rss_kib(pid: int) -> int:
    kib = procfs.vm_kib(pid, "VmRSS")
    assert kib, f"no VmRSS for {pid}"
    return kib


class TestFeedsPerBoard:
    """A string TaskBoardScope over a case-insensitive column: /sb/events?board=team, TEAM,
    "team  " ... are one board in the database, and one feed in the process."""

    CONF = BASE + SCOPED_CONF + MPM64

    @classmethod
    def prepare_class(cls, db):
        for sql in SCOPED_SCHEMA:
            db.execute(sql)

    @classmethod
    def cleanup_class(cls, httpd, db):
        httpd.stop()                # (its poller would read the tables dropped here)
        for t in SCOPED_TABLES:
            db.execute(f"DROP TABLE IF EXISTS `{t}`")

    @pytest.fixture(autouse=True)
    def _seed(self, db):
        for t in SCOPED_TABLES:
            db.execute(f"DELETE FROM `{t}`")
        db.execute("INSERT INTO e840_boards (id, revision) VALUES ('team', 10), ('other', 20)")

    def test_tb_840_40(self, httpd, db):
        # streams of several spellings share one feed, and each gets the events of a sync made
        # through yet another spelling; another board has a feed of its own and its events
        # reach only its streams; a board that does not exist gets 404 and no feed
        names = ["team", "TEAM", "Team", "tEaM", "team ", "TEAM     "]
        streams = [sse.SseStream(httpd, path=events_path(b)) for b in names]
        try:
            for s in streams:
                expect_ready(s, 10)
            assert status(httpd)["eventFeeds"] == 1
            with sse.SseStream(httpd, path=events_path("OTHER ")) as o:
                expect_ready(o, 20)
                assert status(httpd)["eventFeeds"] == 2
                r = scoped_sync(httpd, "TeAm  ", "via another spelling")
                assert r == 11
                for s, name in zip(streams, names):
                    b = s.next_event(EVENT_WAIT)
                    assert b is not None and b.id == "11", (name, b)
                    assert b.json() == {"revision": 11, "stores": ["tasks"]}, (name, b)
                assert not o.quiet(5 * POLL_S), "the other board got the team's event"
                r = scoped_sync(httpd, "other", "the other board")
                b = o.next_event(EVENT_WAIT)
                assert b is not None and b.id == str(r) == "21", b
                for s in streams:
                    assert not s.quiet(5 * POLL_S), "the team got the other board's event"
            r = requests.get(httpd.url(events_path("nope")), timeout=10)
            tbtest.check_error(r, 404, kind="events")
            assert status(httpd)["eventFeeds"] == 2
        finally:
            close_all(streams)

    def test_tb_840_41(self, env, httpd, db):
        # 300 spellings of one board, 50 streams at a time: one feed; the process's memory does
        # not grow with them (a feed is 64 KiB: 250 of them would be 16 MB); feeds that no stream
        # uses are freed after 10 polls
        wait_streams(httpd, 0)      # (the streams of the test before gone, and their feeds)
        tbtest.poll(lambda: status(httpd)["eventFeeds"] == 0, 15, what="no feed left")
        child = next(iter(procfs.children(httpd.pid())))
        batches = [SPELLINGS[i:i + 50] for i in range(0, len(SPELLINGS), 50)]
        sizes = []
        for k, batch in enumerate(batches):
            streams = [sse.SseStream(httpd, path=events_path(b)) for b in batch]
            try:
                for s, b in zip(streams, batch):
                    assert s.status == 200, (repr(b), s.p.status_line)
                    expect_ready(s, 10)
                st = status(httpd)
                assert st["eventFeeds"] == 1, (k, st)
            finally:
                close_all(streams)
            wait_streams(httpd, 0)
            sizes.append(rss_kib(child))
        assert procfs.children(httpd.pid()) == {child}, "the child was replaced"
        grown = sizes[-1] - sizes[0]
        print(f"\n[840 spellings] {len(SPELLINGS)} spellings, VmRSS of the child by batch (KiB): "
              f"{sizes}; grown {grown} KiB after the first batch")
        # generous: the 250 feeds of the old behaviour alone were 16,000 KiB
        assert grown < 6000, sizes
        # no stream uses the feed any more: freed after 10 polls (2 s here)
        tbtest.poll(lambda: status(httpd)["eventFeeds"] == 0, 15, what="the idle feed freed")
        # and made again for the next stream
        with sse.SseStream(httpd, path=events_path("TEAM")) as s:
            expect_ready(s, 10)
            assert status(httpd)["eventFeeds"] == 1


# ------------------------------------------------------------------------------------------------
# The stores of an event resumed from the journal

SUBTASKS_SCHEMA = ("CREATE TABLE IF NOT EXISTS `subtasks` (`id` INT NOT NULL AUTO_INCREMENT, "
                   "`name` VARCHAR(100) NOT NULL, PRIMARY KEY (`id`)) ENGINE=InnoDB "
                   "DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci")
SUBTASKS_CONF = """
<Location /api>
    <TaskBoardStore subtasks>
        TaskBoardTable subtasks
        TaskBoardField name string required
    </TaskBoardStore>
</Location>
"""
SAMPLE_STORES = list(tbtest.parse_board(SAMPLE).stores)


class TestResumedTables:

    CONF = BASE + SUBTASKS_CONF
    SAMPLE_DATA = ("started", "teardown")

    @classmethod
    def prepare_class(cls, db):
        db.execute(SUBTASKS_SCHEMA)

    @classmethod
    def cleanup_class(cls, httpd, db):
        httpd.stop()
        db.execute("DROP TABLE IF EXISTS `subtasks`")

    def test_tb_840_50(self, env, httpd, db):
        # one sync changes `tasks` and `subtasks`; the journal lists subtasks first (its key
        # order), and `tasks` is the end of `subtasks`: the event resumed from the journal names
        # both stores, as the live one does
        tag = f"{env.current_test}-first"
        with sse.SseStream(httpd, tag=tag) as s:
            rev = expect_ready(s)
        tbtest.poll(lambda: sse.request_logged(httpd, tag), 10, what="the first stream done")
        live_tag = f"{env.current_test}-live"
        with sse.SseStream(httpd, tag=live_tag) as live:
            expect_ready(live, rev)
            r = tbtest.sync_post(httpd, {"type": "sync", "requestId": 1, "tasks": {
                "updated": [{"id": 1, "weight": 840_050}]}, "subtasks": {
                "added": [{"$PhantomId": "s1", "name": "a subtask"}]}})
            assert r.status_code == 200, describe(r)
            new = tbtest.json_body(r)["revision"]
            want = {"revision": new, "stores": ["tasks", "subtasks"]}
            assert [st for st in SAMPLE_STORES + ["subtasks"] if st in want["stores"]] == \
                want["stores"]
            b = live.next_event(EVENT_WAIT)
            assert b is not None and b.json() == want, b
        assert db.query("SELECT tbl FROM taskboard_journal WHERE revision = %s ORDER BY tbl",
                        (new,)) == [("subtasks",), ("tasks",)]
        # no stream follows the board now: the resume reads the journal
        tbtest.poll(lambda: sse.request_logged(httpd, live_tag), 10, what="the live stream done")
        with sse.SseStream(httpd, last_event_id=rev) as s:
            assert s.status == 200
            b = s.next(EVENT_WAIT)
            assert b is not None and b.retry == "2000", b
            b = s.next_event(EVENT_WAIT)
            assert b is not None and b.json() == want, b
