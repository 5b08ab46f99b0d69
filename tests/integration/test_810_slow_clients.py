"""Clients that do not read their answer hold no database connection (issue 14, defect 2).

A load's answer is read from the database whole (kept in the load cache, or spooled to an unlinked
temporary file when the cache cannot keep it) and the connection goes back to mod_dbd, with its
snapshot ended, before the first byte is written.  Here a single httpd process with DBDMax 2 gets
more never-reading clients than it has connections, for a board of 3.9 MB, through small socket
buffers so that each of those answers is stuck in the middle; loads and syncs of other users must
still be answered, no transaction may stay open for the stuck answers, and each stuck answer must
still arrive complete once its client reads.
"""

import itertools
import json
import socket
import time

import boards
import storm
import tbtest
from test_500_big_board import N_TASKS, TABLES, make_big_board, q_data

N_SLOW = 4
BIG_LOAD = "/big/load?" + q_data({"type": "load", "requestId": 810})

# One process, so that all the stuck clients share its two connections.
BASE = (boards.board_conf("/api") + boards.board_conf("/big", table_prefix="big_")
        + "ServerLimit 1\nMaxRequestWorkers 16\nDBDMin 0\nDBDKeep 2\nDBDMax 2\n"
        + "SendBufferSize 16384\n")


class SlowReader:
    """A client that sends its request and then reads nothing until told to."""

    def __init__(self, httpd: tbtest.Httpd, path: str, tag: str):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(30)
        self.sock.connect(("127.0.0.1", httpd.port))
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-TB-Test: {tag}\r\n"
                          "Connection: close\r\n\r\n".encode())

    def wait_answered(self):
        """Until the first bytes of the answer arrive: the module writes nothing before the
        whole answer is read and the connection is back, so the request has left the database
        by then (it may have waited its turn for a connection, or for another load's read of
        the same answer, with no sign of it in the database)."""
        assert self.sock.recv(1, socket.MSG_PEEK), "the connection closed without an answer"

    def read_all(self) -> bytes:
        chunks = []
        while True:
            b = self.sock.recv(1 << 20)
            if not b:
                break
            chunks.append(b)
        self.sock.close()
        return b"".join(chunks)


def body_of(raw: bytes) -> dict:
    """The JSON of a raw HTTP/1.1 response (Content-Length or chunked)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    if b"transfer-encoding: chunked" in head.lower():
        out, rest = [], body
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            out.append(rest[:size])
            rest = rest[size + 2:]
        body = b"".join(out)
    return json.loads(body)


class TestSlowClients:

    sample = tbtest.parse_board(boards.board_conf("/api"))

    @classmethod
    def prepare_class(cls, db):
        make_big_board(db)

    @classmethod
    def cleanup_class(cls, db):
        for t in TABLES:
            db.execute(f"DROP TABLE IF EXISTS big_{t}")

    def others_are_served(self, httpd, db):
        """Another user's load and sync, answered while the slow clients hold their answers.
        The timeouts are a safety net: before the fix each waited for a connection until a
        stuck write ran into httpd's Timeout (15 s)."""
        r = httpd.get("/api/load", timeout=8)
        tbtest.check_load(r, self.sample, db)
        with db.snapshot("tasks"):
            r = httpd.post("/api/sync", json={
                "type": "sync", "requestId": 8101,
                "tasks": {"updated": [{"id": 1, "name": "moved while others are slow"}]}},
                timeout=8)
            assert r.status_code == 200, tbtest.describe(r)
            assert db.scalar("SELECT name FROM tasks WHERE id = 1") == "moved while others are slow"

    def stuck(self, env, httpd, db, conf):
        httpd.reload(conf)
        # warm up: the first answer is read (and kept where the cache can keep it)
        first = httpd.get(BIG_LOAD, timeout=30)
        assert first.status_code == 200, tbtest.describe(first)
        slow = [SlowReader(httpd, BIG_LOAD, env.current_test) for _ in range(N_SLOW)]
        try:
            # each stuck answer has left the database: no transaction of the board's user
            # stays open, and the server is still writing to every slow client
            for s in slow:
                s.wait_answered()
            deadline = time.time() + 10
            while True:
                trx = storm.root_query(
                    env, "SELECT COUNT(*) FROM information_schema.PROCESSLIST p "
                    "JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID "
                    "WHERE p.USER = %s", (tbtest.DB_USER,))[0][0]
                busy = storm.root_query(
                    env, "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                    "WHERE USER = %s AND COMMAND <> 'Sleep'", (tbtest.DB_USER,))[0][0]
                if (trx == 0 and busy == 0) or time.time() > deadline:
                    break
                time.sleep(0.1)
            assert trx == 0, f"{trx} transactions stay open for clients that do not read"
            self.others_are_served(httpd, db)
        finally:
            bodies = [body_of(s.read_all()) for s in slow]
        for b in bodies:
            assert b["success"] is True and len(b["tasks"]["rows"]) == N_TASKS
            assert b == {**first.json(), "requestId": b["requestId"]}

    def test_tb_810_01(self, env, httpd, db):
        # the answer fits the load cache: kept, and sent from it after the connection went back
        self.stuck(env, httpd, db, BASE)

    def test_tb_810_02(self, env, httpd, db):
        # the cache cannot keep it (largest 1 MiB): read whole into a spool file first
        self.stuck(env, httpd, db, BASE + "TaskBoardLoadCacheSize 33554432 1048576\n")

    def test_tb_810_03(self, env, httpd, db):
        # the cache is off for the location: every answer is spooled
        self.stuck(env, httpd, db, boards.board_conf("/api")
                   + boards.board_conf("/big", table_prefix="big_",
                                       extra="    TaskBoardLoadCache Off\n")
                   + BASE[len(boards.board_conf("/api") + boards.board_conf(
                       "/big", table_prefix="big_")):])


class TestLoanStatements:
    """A connection keeps 64 prepared statements; a request that needs more prepares them for
    itself, and they are closed when it gives the connection back: before its answer is written,
    never later from the request's pool, when the connection may be another thread's (closing
    a statement talks to the server over the connection).  One connection (DBDMax 1), filled
    with 64 kept statements by syncs that each send another set of fields; then a sync with a
    new set of fields and a large answer, whose client does not read: its statement must be
    closed (Com_stmt_close) while its answer still waits for the client."""

    FIELDS = {"name": "n", "description": "d", "prio": "low", "weight": 3,
              "deadline": "2024-01-02", "eventColor": "red", "readOnly": False, "meta": {"k": 1}}

    CONF = (tbtest.sample_test_conf() + tbtest.CACHE_OFF_CONF
            + "ServerLimit 1\nMaxRequestWorkers 16\nDBDMin 0\nDBDKeep 1\nDBDMax 1\n"
            + "SendBufferSize 16384\n")
    SAMPLE_DATA = ("teardown",)

    def test_tb_810_04(self, env, httpd, db):
        subsets = [c for n in (1, 2, 3) for c in itertools.combinations(sorted(self.FIELDS), n)]
        for i, fields in enumerate(subsets[:70]):
            r = httpd.post("/api/sync", json={"type": "sync", "requestId": 81040 + i, "tasks": {
                "updated": [{"id": 1, **{f: self.FIELDS[f] for f in fields}}]}})
            assert r.status_code == 200, tbtest.describe(r)

        def closed():
            return int(storm.root_query(env, "SHOW GLOBAL STATUS LIKE 'Com_stmt_close'")[0][1])

        before = closed()
        n = 3000
        adds = [{"$PhantomId": f"_loan{i}", "name": f"loan {i}", "eventColor": "blue",
                 "weight": i, "readOnly": True} for i in range(n)]
        body = json.dumps({"type": "sync", "requestId": 81099, "tasks": {"added": adds}}).encode()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(30)
        sock.connect(("127.0.0.1", httpd.port))
        try:
            sock.sendall(b"POST /api/sync HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/json\r\nConnection: close\r\n"
                         + f"X-TB-Test: {env.current_test}\r\n".encode()
                         + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            tbtest.poll(lambda: db.scalar("SELECT COUNT(*) FROM tasks WHERE name LIKE 'loan %%'")
                        == n, 20, what="the sync committed")
            # committed, its answer (over 100 KB) stuck before a client that does not read
            got = tbtest.poll(lambda: closed() > before or None, 5,
                              what="the sync's own statement closed before its answer was read")
            assert got
        finally:
            chunks = []
            while True:
                b = sock.recv(1 << 20)
                if not b:
                    break
                chunks.append(b)
            sock.close()
        answer = body_of(b"".join(chunks))
        assert answer["success"] is True and len(answer["tasks"]["rows"]) == n
