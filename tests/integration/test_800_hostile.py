"""Hostile input for /api/load and /api/sync, as one table (ROWS) and one test (test_tb_800_01).

Each row is one request: (id, method, path, headers, body, expected status, optional check).  The
body is bytes, str, a dict/list (sent as JSON), a function that returns one of those when the row
runs (an iterator is sent chunked), or Raw(...) for what `requests` cannot send (a trickled body,
lying length headers).  For every row the test asserts:

- the status, and for an error the JSON body {"success":false,"type":…,"message":…,"code":status}
  with nothing of the database or the server in it (tbtest.check_error / check_sync_error, RE_LEAK);
  rows marked `native` are answered by httpd itself (HTTP framing errors that its input filter
  reports), and only have to reveal nothing;
- for an error, that no table changed: CHECKSUM TABLE of the sample tables and of the retry tables;
- for a successful sync, the response against the database before and after
  (tbtest.check_sync_result), the revision raised by one exactly when something changed, and the
  row's own check of the exact effect; for a successful load, tbtest.check_load;
- the time the answer took (`max_s`), and that the server is healthy afterwards: a plain load
  returns 200 with the whole board.

The sample data is loaded again before every row (it takes ~30 ms), so rows do not depend on each
other.  To add a case, add a row; a new kind of body goes into send().  A row that shows a known
bug asserts the right behaviour and is marked xfail(strict=True) with the bug as its reason: once
the bug is fixed it fails as XPASS, and the mark goes.  Where the module's behaviour is a decision
rather than a bug, the row asserts what it does and a comment says why.
"""

import http.client
import json
import select
import socket
import time
import urllib.parse
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable, Optional

import pytest
import requests
from requests.structures import CaseInsensitiveDict

import tbtest
from protocol import REAL_LOAD, REAL_SYNC, refused_sync
from tbtest import (MISSING, RE_LEAK, board_state, check_error, check_load, check_sync,
                    check_sync_error, check_sync_result, checksums, describe, jloads, state_diff,
                    strict_equal)

# ------------------------------------------------------------------------------------------------
# Configuration: the shipped sample configuration, plus mod_reqtimeout for the trickled bodies.
# test.conf is included at the end of the base config, where LoadModule works as anywhere else.

REQTIMEOUT = """
LoadModule reqtimeout_module /usr/lib/apache2/modules/mod_reqtimeout.so
RequestReadTimeout header=5 body=2,MinRate=100
"""
CONF = tbtest.sample_test_conf() + REQTIMEOUT


def retry_tables(conf: str) -> tuple:
    for line in conf.splitlines():
        words = line.split()
        if words and words[0].lower() == "taskboardretrytables":
            return tuple(words[1:3])
    return ()


RETRY_TABLES = retry_tables(CONF)   # (phantom table, request table) of TaskBoardRetryTables
BODY_TIMEOUT = 2            # body=2 above: the first byte must come within 2 s, then 100 bytes/s
MAX_BODY = 4194304          # TaskBoardMaxBodySize default (the sample configuration sets none)
MAX_RECORDS = 5000          # TaskBoardMaxRecords default


# Every writable field of a task in the sample configuration, with a value: an added record that
# carries all of them is fully determined, so its row can be compared exactly.
FULL_TASK = {"name": "Full", "description": "all fields", "status": "review", "prio": "low",
             "weight": 7, "deadline": "2024-12-31", "startDate": "2024-03-05T10:30:00Z",
             "eventColor": "blue", "readOnly": True, "parentId": 1, "meta": {"k": [1, "two"]}}


SQL_PAYLOADS = ["'; DROP TABLE tasks; --", "\" OR 1=1 --", "`name`", "%s %d", "\\'", "?", "$1",
                "1; SELECT SLEEP(5)", "%n%n%n%n%s%s", "') OR ('1'='1", "\\", "*/ UNION SELECT 1 /*",
                "x\u2019 OR 1=1 \U0001d54f"]

# Client field names that are no mapped field: SQL, quotes, spaces, case variants of a mapped
# name, the columns' own names (the mapping is by client name, never by column name), unicode,
# a 10 KB name, the empty name.
HOSTILE_KEYS = ["name`; DROP TABLE tasks; --", "name'", 'name"', "`name`", "name;", "name --",
                "na me", " name", "name ", "NAME", "Name", "nаme", "名前", "x" * 10240, "",
                "1=1 OR", "(SELECT 1)", "tasks.name", "$1", "?", "%s", "event_color", "read_only",
                "start_date", "parent_id", "created_at", "updated_at", "description\t"]


# ------------------------------------------------------------------------------------------------
# The table's row type, and shorthands for the common requests

JSON_CT = {"Content-Type": "application/json"}
FORM_CT = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Raw:
    """A request written to the socket by hand: `body` after the row's headers (a Content-Length
    is added unless the row has one or a Transfer-Encoding); with `trickle`, one byte every
    `trickle` seconds until the server answers."""
    body: bytes
    trickle: Optional[float] = None


@dataclass
class Row:
    id: str
    method: str
    path: str
    headers: dict
    body: object
    status: int
    check: Optional[Callable] = None      # check(ctx): the row's own assertions
    rid: object = MISSING                  # the requestId the answer must echo
    applies: Optional[dict] = None         # successful sync: the package that takes effect
    stores: Optional[list] = None          # successful load: the sections it must carry
    pages: Optional[dict] = None           # successful load: {store: (page, pageSize)}
    max_s: float = 5.0                     # the answer must come within this many seconds
    log: tuple = ()                        # error-log lines this row causes (httpd.expect_log)
    native: bool = False                   # httpd answers itself: not the module's JSON
    marks: tuple = ()                      # pytest marks (xfail for known bugs)
    setup: Optional[Callable] = None       # setup(db): data the row needs, before the snapshot


def S(id, body, status, check=None, **kw) -> Row:
    """POST /api/sync with a JSON body."""
    return Row(id, "POST", "/api/sync", JSON_CT, body, status, check, **kw)


def L(id, body, status, check=None, **kw) -> Row:
    """POST /api/load with a JSON body."""
    return Row(id, "POST", "/api/load", JSON_CT, body, status, check, **kw)


def LQ(id, text, status, check=None, **kw) -> Row:
    """GET /api/load?data=<text, url-encoded>."""
    raw = text.encode() if isinstance(text, str) else text
    return Row(id, "GET", "/api/load?data=" + urllib.parse.quote_from_bytes(raw, safe=""), {},
               None, status, check, **kw)


def q(package) -> str:
    text = package if isinstance(package, (str, bytes)) else json.dumps(package)
    return urllib.parse.quote_from_bytes(text.encode() if isinstance(text, str) else text, safe="")


def form(package) -> bytes:
    return ("data=" + q(package)).encode()


def bad(rid=800, **sections) -> dict:
    """A sync package with protocol.VALID and `sections`."""
    return refused_sync(rid, **sections)


def sync_pkg(rid=800, **sections) -> dict:
    p = {"type": "sync", "requestId": rid}
    p.update(sections)
    return p


def padded(head: str, size: int, tail: str = '"}') -> bytes:
    """head + x… + tail, exactly `size` bytes."""
    data = (head + "x" * (size - len(head) - len(tail)) + tail).encode()
    assert len(data) == size
    return data


def chunks(data: bytes, n: int = 4096):
    def gen():
        for i in range(0, len(data), n):
            yield data[i:i + n]
    return gen


# ------------------------------------------------------------------------------------------------
# Checks used by the rows

def by_phantom(body, store, phantom) -> dict:
    rows = [x for x in body.get(store, {}).get("rows", []) if x.get("$PhantomId") == phantom]
    assert len(rows) == 1, f"{store}: {phantom!r} not once in rows: {body.get(store)}"
    return rows[0]


def new_rows(ctx, store) -> list:
    return [ctx.after[store][i] for i in sorted(set(ctx.after[store]) - set(ctx.before[store]),
                                                key=repr)]


def hex_of(ctx, table, column, id_):
    v = ctx.db.scalar(f"SELECT HEX(`{column}`) FROM `{table}` WHERE id = %s", (id_,))
    return v.decode() if isinstance(v, bytes) else v


def diff_is(expected: dict):
    """The tables changed exactly so: {store: {"added": n, "removed": {ids}, "changed":
    {id: {fields}}}} (parts left out are empty)."""
    def check(ctx):
        got = {}
        for sid, d in ctx.diff.items():
            got[sid] = {"added": len(d["added"]), "removed": set(d["removed"]),
                        "changed": {i: set(f) for i, f in d["changed"].items()}}
        want = {sid: {"added": e.get("added", 0), "removed": set(e.get("removed", ())),
                      "changed": {i: set(f) for i, f in e.get("changed", {}).items()}}
                for sid, e in expected.items()}
        assert got == want, f"changes {got}, expected {want}"
    return check


def all_of(*checks):
    def check(ctx):
        for c in checks:
            c(ctx)
    return check


def db_is(sql, rows):
    def check(ctx):
        got = [tuple(r) for r in ctx.db.query(sql)]
        assert got == rows, f"{sql}: {got}, expected {rows}"
    return check


def message_has(*words):
    def check(ctx):
        for w in words:
            assert w in ctx.body["message"], f"{w!r} not in the message: {ctx.body['message']!r}"
    return check


def message_is_for_a_person(ctx):
    # docs/protocol.md section 3: the user reads the message; a C library's flag name means nothing
    assert "JSON_ALLOW_NUL" not in ctx.body["message"], ctx.body["message"]


def errors_are(*expected):
    """A 422's errors: (store, "id" or "$PhantomId", key, field) each; field None for a value the
    database refused (the module cannot tell which column)."""
    def check(ctx):
        errs = ctx.body.get("errors")
        assert isinstance(errs, list) and errs, f"422 without errors: {ctx.body}"
        got = sorted(((e.get("store"), k, e.get(k), e.get("field"))
                      for e in errs for k in ("id", "$PhantomId") if k in e), key=repr)
        assert got == sorted(expected, key=repr), f"errors {errs}, expected {expected}"
        for e in errs:
            assert isinstance(e.get("message"), str) and e["message"], e
    return check


def task3_name(name):
    """Task 3 was renamed to `name` and nothing else changed."""
    def check(ctx):
        assert ctx.db.scalar("SELECT name FROM tasks WHERE id = 3") == name
        diff_is({"tasks": {"changed": {3: {"name"}}}})(ctx)
    return check


def full_task_added(ctx):
    """Exactly one task was added, and its row is FULL_TASK: nothing but the mapped fields."""
    diff_is({"tasks": {"added": 1}})(ctx)
    (row,) = new_rows(ctx, "tasks")
    want = dict(FULL_TASK, id=row["id"])
    assert strict_equal(row, want), f"stored {row}, expected {want}"


def payload_stored(p, col_id):
    """Every field that carried the payload holds it byte for byte, and nothing else changed."""
    def check(ctx):
        b = ctx.body
        t, r = by_phantom(b, "tasks", p)["id"], by_phantom(b, "resources", p)["id"]
        a = by_phantom(b, "assignments", p)
        assert (a["eventId"], a["resourceId"]) == (t, r)
        want = p.encode().hex().upper()
        for table, col, id_ in (("tasks", "name", t), ("tasks", "description", t),
                                ("tasks", "name", 3), ("resources", "name", r),
                                ("resources", "role", r)):
            assert hex_of(ctx, table, col, id_) == want, (table, col, id_)
        assert ctx.db.query("SELECT HEX(id), HEX(text) FROM `columns` WHERE id = %s",
                            (col_id,)) == [(col_id.encode().hex().upper(), want)]
        diff_is({"tasks": {"added": 1, "changed": {3: {"name"}}}, "resources": {"added": 1},
                 "assignments": {"added": 1}, "columns": {"added": 1}})(ctx)
        # the retry records keep the phantom id byte for byte too (utf8mb4_bin)
        assert ctx.db.query(f"SELECT tbl, HEX(phantom) FROM `{RETRY_TABLES[0]}` ORDER BY tbl") \
            == [(tbl, want) for tbl in ("assignments", "columns", "resources", "tasks")]
        assert ctx.db.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                             "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'tasks'") == 1
    return check


def payload_row(i, p) -> Row:
    col_id = f"c{i}:{p}"[:50]
    pkg = sync_pkg(
        800 + i,
        tasks={"added": [{"$PhantomId": p, "name": p, "description": p}],
               "updated": [{"id": 3, "name": p}]},
        resources={"added": [{"$PhantomId": p, "name": p, "role": p}]},
        assignments={"added": [{"$PhantomId": p, "eventId": p, "resourceId": p}]},
        columns={"added": [{"$PhantomId": p, "id": col_id, "text": p}]})
    # SLEEP(5) must never run: the answer comes at once
    return S(f"sql-value-{i}", pkg, 200, payload_stored(p, col_id), rid=800 + i, max_s=3)


def nothing_removed(ctx):
    assert ctx.diff == {}, ctx.diff
    assert ctx.body["revision"] == ctx.rev, "a sync that changed nothing raised the revision"


def meta_is(value):
    def check(ctx):
        (row,) = new_rows(ctx, "tasks")
        assert row["meta"] == value
        diff_is({"tasks": {"added": 1}})(ctx)
    return check


def description_is(text):
    def check(ctx):
        (row,) = new_rows(ctx, "tasks")
        assert hex_of(ctx, "tasks", "description", row["id"]) == text.encode().hex().upper()
        diff_is({"tasks": {"added": 1}})(ctx)
    return check


def task_chain(n, first=101):
    """Setup: tasks first..first+n-1, each the subtask of the one before (a tree n levels deep)."""
    def setup(db):
        for i in range(n):
            db.execute("INSERT INTO tasks (id, name, parent_id) VALUES (%s, %s, %s)",
                       (first + i, f"level {i}", first + i - 1 if i else None))
    return setup


def request_id_echoed(ctx):
    assert ctx.body["requestId"] == LONG_RID


def trickle_cut(ctx):
    # httpd (mod_reqtimeout) ends the read after the body timeout, not after the whole body
    assert ctx.elapsed >= BODY_TIMEOUT - 0.5, f"answered after {ctx.elapsed:.2f} s"


# ------------------------------------------------------------------------------------------------
# The table

def cuts(text: str, points) -> list:
    data = text.encode()
    return sorted({p if p >= 0 else len(data) + p for p in points})


SYNC_CUTS = cuts(REAL_SYNC, [1, 2, 17, 40, 100, len(REAL_SYNC) // 2, 400, -60, -3, -2, -1])
LOAD_CUTS = cuts(REAL_LOAD, [1, 9, 30, len(REAL_LOAD) // 2, -2, -1])
UTF8_CUT = '{"type":"sync","requestId":800,"tasks":{"updated":[{"id":3,"name":"日本"}]}}'.encode()

ID_TYPES = [("object", {"id": 3}), ("array", [3]), ("fraction", 3.5), ("float", 3.0),
            ("bool", True), ("null", None), ("empty", ""), ("huge-float", 1e300)]
STRING_ID_TYPES = [("object", {"id": "todo"}), ("array", ["todo"]), ("float", 1.5),
                   ("bool", False), ("null", None), ("empty", "")]
RECORD_TYPES = [("number", 5), ("string", "x"), ("null", None), ("array", [{"id": 3}]),
                ("bool", True)]
AUTO_ID_TEXTS = ["1 OR 1=1", "1; DROP TABLE tasks", "3 ", " 3", "+3", "0x3", "3e0", "3.0",
                 "99999999999999999999", "'3'", "3--", ""]

TE_PKG = sync_pkg(tasks={"updated": [{"id": 3, "name": "te wins"}]})
CHUNKED_TE = b"%x\r\n%s\r\n0\r\n\r\n" % (len(json.dumps(TE_PKG)), json.dumps(TE_PKG).encode())
A = sync_pkg("body", tasks={"updated": [{"id": 3, "name": "from the body"}]})
B = sync_pkg("query", tasks={"updated": [{"id": 3, "name": "from the query"}]})
LOAD_A = {"type": "load", "requestId": "body", "stores": ["columns"]}
LOAD_B = {"type": "load", "requestId": "query", "stores": ["swimlanes"]}
LONG_RID = "r" * 100000

ROWS = [
    # -- malformed JSON
    S("sync-malformed-bare-word", b"{bad", 400),
    S("sync-malformed-single-quotes", b"{'type':'sync'}", 400),
    S("sync-malformed-trailing-garbage", b'{"type":"sync","requestId":800} x', 400),
    S("sync-malformed-two-packages", b'{"type":"sync"}{"type":"sync"}', 400),
    S("sync-malformed-nan", b'{"type":"sync","tasks":{"updated":[{"id":3,"weight":NaN}]}}', 400),
    S("sync-malformed-infinity",
      b'{"type":"sync","tasks":{"updated":[{"id":3,"weight":Infinity}]}}', 400),
    S("sync-malformed-comment", b'{"type":"sync" /* x */}', 400),
    S("sync-malformed-bom", "\ufeff{\"type\":\"sync\"}".encode(), 400),
    S("sync-malformed-empty", b"", 400, message_has("empty")),
    S("sync-malformed-whitespace", b" \r\n\t ", 400),
    L("load-malformed-bare-word", b"{bad", 400),
    LQ("load-malformed-query", "{'type':'load'}", 400),
    # a duplicate key is refused, so that no part of a package can be smuggled past a reader
    # that keeps the first (or the last) of two sections
    S("sync-duplicate-section",
      b'{"type":"sync","tasks":{"updated":[{"id":3,"name":"a"}]},'
      b'"tasks":{"removed":[{"id":3}]}}', 400),
    S("sync-duplicate-field",
      b'{"type":"sync","tasks":{"updated":[{"id":3,"name":"a","name":"b"}]}}', 400),
    L("load-duplicate-stores", b'{"type":"load","stores":["tasks"],"stores":["columns"]}', 400),
    *[S(f"sync-truncated-at-{n}", REAL_SYNC.encode()[:n], 400) for n in SYNC_CUTS],
    S("sync-truncated-in-utf8", UTF8_CUT[:UTF8_CUT.index("本".encode()) + 1], 400),
    *[L(f"load-truncated-at-{n}", REAL_LOAD.encode()[:n], 400) for n in LOAD_CUTS],
    *[LQ(f"load-query-truncated-at-{n}", REAL_LOAD.encode()[:n], 400) for n in LOAD_CUTS[::2]],

    # -- invalid UTF-8, inside a string and outside
    S("utf8-in-string", b'{"type":"sync","tasks":{"updated":[{"id":3,"name":"a\xff\xfeb"}]}}',
      400),
    S("utf8-outside", b'{"type":"sync",\xff"tasks":{"updated":[{"id":3,"name":"x"}]}}', 400),
    S("utf8-in-key", b'{"type":"sync","tasks":{"updated":[{"id":3,"n\xc3":"x"}]}}', 400),
    S("utf8-overlong-slash", b'{"type":"sync","tasks":{"updated":[{"id":3,"name":"\xc0\xaf"}]}}',
      400),
    S("utf8-encoded-surrogate",
      b'{"type":"sync","tasks":{"updated":[{"id":3,"name":"\xed\xa0\x80"}]}}', 400),
    S("utf8-above-10ffff",
      b'{"type":"sync","tasks":{"updated":[{"id":3,"name":"\xf4\x90\x80\x80"}]}}', 400),
    S("utf8-escaped-lone-surrogate",
      b'{"type":"sync","tasks":{"updated":[{"id":3,"name":"\\ud800"}]}}', 400),
    S("utf8-in-unmapped-field",
      b'{"type":"sync","tasks":{"updated":[{"id":3,"name":"ok","cls":"\xff"}]}}', 400),
    S("utf8-escaped-pair-is-fine",
      b'{"type":"sync","tasks":{"updated":[{"id":3,"name":"\\ud83d\\ude00"}]}}', 200,
      task3_name("\U0001f600")),
    Row("utf8-in-form", "POST", "/api/sync", FORM_CT,
        b"data=" + urllib.parse.quote_from_bytes(
            b'{"type":"sync","tasks":{"updated":[{"id":3,"name":"\xff"}]}}').encode(), 400),
    LQ("load-utf8-in-query", b'{"type":"load","requestId":"\xff"}', 400),
    L("load-utf8-outside", b'{"type":"load",\xfe"stores":["tasks"]}', 400),
    # a UTF-16 body is not JSON to the module, whatever charset the header names
    Row("utf16-body", "POST", "/api/sync", {"Content-Type": "application/json; charset=utf-16"},
        '{"type":"sync"}'.encode("utf-16"), 400),

    # -- NUL, escaped and raw
    S("nul-escaped-in-string",
      b'{"type":"sync","requestId":800,"tasks":{"updated":[{"id":3,"name":"a\\u0000b"}]}}', 400),
    S("nul-raw-in-string",
      b'{"type":"sync","requestId":800,"tasks":{"updated":[{"id":3,"name":"a\x00b"}]}}', 400),
    S("nul-escaped-in-key",
      b'{"type":"sync","tasks":{"updated":[{"id":3,"name\\u0000x":"b","name":"c"}]}}', 400),
    S("nul-escaped-in-unmapped",
      b'{"type":"sync","tasks":{"updated":[{"id":3,"name":"b","cls":"\\u0000"}]}}', 400),
    S("nul-raw-after-package", b'{"type":"sync","requestId":800}\x00{"tasks":{}}', 400),
    S("nul-raw-before-package", b'\x00{"type":"sync","requestId":800}', 400),
    Row("nul-in-form", "POST", "/api/sync", FORM_CT,
        b"data=" + q('{"type":"sync","tasks":{"updated":[{"id":3,"name":"a\\u0000"}]}}').encode(),
        400),
    LQ("load-nul-in-query", b'{"type":"load","requestId":"a\x00b"}', 400),
    LQ("load-nul-escaped-in-query", b'{"type":"load","requestId":"a\\u0000b"}', 400),
    S("nul-message-for-a-person",
      b'{"type":"sync","requestId":800,"tasks":{"updated":[{"id":3,"name":"a\\u0000b"}]}}', 400,
      message_is_for_a_person),

    # -- nesting: the depth limit (64) is counted before jansson parses, and strings do not count
    S("deep-10000-arrays", b"[" * 10000, 400, message_has("64"), max_s=1),
    S("deep-10000-in-record",
      b'{"type":"sync","tasks":{"updated":[{"id":3,"meta":' + b"[" * 10000 + b"]" * 10000
      + b"}]}}", 400, message_has("64"), max_s=1),
    S("deep-500000-objects", lambda: b'{"a":' * 500000, 400, max_s=2),
    L("load-deep-10000", b'{"type":"load","stores":' + b"[" * 10000, 400, max_s=1),
    LQ("load-query-deep-1000", b"[" * 1000, 400, max_s=1),
    # exactly 64 levels: package, section, updated, record, then 60 arrays in an unmapped field
    S("deep-64-accepted",
      sync_pkg(tasks={"added": [dict(FULL_TASK, **{"$PhantomId": "_d",
                                                   "junk": json.loads("[" * 60 + "]" * 60)})]}),
      200, full_task_added, rid=800),
    S("deep-65-refused",
      sync_pkg(tasks={"added": [dict(FULL_TASK, **{"$PhantomId": "_d",
                                                   "junk": json.loads("[" * 61 + "]" * 61)})]}),
      400, message_has("64")),
    S("brackets-in-string",
      sync_pkg(tasks={"added": [{"$PhantomId": "_b", "description": "[{" * 5000 + '\\"[' + "{"}]}),
      200, description_is("[{" * 5000 + '\\"[' + "{"), rid=800),
    # MariaDB refuses JSON deeper than 32 levels (json_valid): 422, nothing written
    S("deep-json-field-db-refuses",
      sync_pkg(tasks={"added": [{"$PhantomId": "_m", "meta": json.loads("[" * 40 + "]" * 40)}]}),
      422, errors_are(("tasks", "$PhantomId", "_m", None)), rid=800),

    # -- huge arrays and objects
    S("records-over-limit", sync_pkg(tasks={"removed": [{"id": 100000 + i} for i in range(6000)]}),
      400, message_has(str(MAX_RECORDS)), rid=800),
    S("records-over-limit-spread",
      sync_pkg(tasks={"removed": [{"id": 100000 + i} for i in range(2501)]},
               columns={"removed": [{"id": f"gone{i}"} for i in range(2500)]}),
      400, message_has(str(MAX_RECORDS)), rid=800),
    # a huge array in a field the server does not map is parsed and ignored: it only counts
    # against TaskBoardMaxBodySize (docs/protocol.md section 2: added rows carry unmapped fields)
    S("huge-unmapped-array",
      lambda: sync_pkg(tasks={"added": [dict(FULL_TASK, **{"$PhantomId": "_h",
                                                           "exceptionDates": list(range(100000))})]}),
      200, full_task_added, rid=800),
    S("huge-unmapped-object",
      lambda: sync_pkg(tasks={"added": [dict(FULL_TASK, **{"$PhantomId": "_h"},
                                             **{f"k{i}": i for i in range(50000)})]}),
      200, full_task_added, rid=800),
    S("huge-json-field", lambda: sync_pkg(tasks={"added": [{"$PhantomId": "_h",
                                                            "meta": list(range(100000))}]}),
      200, meta_is(list(range(100000))), rid=800),
    S("many-unknown-sections", lambda: dict(sync_pkg(), **{f"app{i}": {} for i in range(20000)}),
      200, nothing_removed, rid=800),
    L("load-100000-store-entries",
      lambda: {"type": "load", "requestId": 800, "stores": ["columns", "nosuch"] * 50000},
      200, rid=800, stores=["columns"]),

    # -- wrong types everywhere (each package also carries a valid change)
    *[S(f"id-{name}-in-{part}", bad(**{"tasks": {part: [{"id": v, "name": "x"}
                                                         if part == "updated" else {"id": v}]}}),
        400, message_has(part), rid=800)
      for part in ("updated", "removed") for name, v in ID_TYPES],
    *[S(f"string-id-{name}-in-{part}", bad(**{"columns": {part: [{"id": v, "text": "x"}
                                                                 if part == "updated"
                                                                 else {"id": v}]}}),
        400, rid=800)
      for part in ("updated", "removed") for name, v in STRING_ID_TYPES],
    *[S(f"added-is-{name}", bad(tasks={"added": v}), 400, message_has("added"), rid=800)
      for name, v in (("object", {"$PhantomId": "_x"}), ("string", "x"), ("number", 1),
                      ("true", True))],
    *[S(f"{part}-row-is-{name}", bad(tasks={part: [v]}), 400, rid=800)
      for part in ("added", "updated", "removed") for name, v in RECORD_TYPES],
    *[S(f"section-is-{name}", bad(tasks=v), 400, message_has("tasks"), rid=800)
      for name, v in (("string", "added"), ("number", 1), ("array", [{"id": 3}]), ("true", True))],
    *[S(f"requestId-is-{name}", dict(bad(), requestId=v), 400, message_has("requestId"))
      for name, v in (("object", {"id": 1}), ("array", [1]), ("bool", True))],
    *[S(f"revision-is-{name}", dict(bad(), revision=v), 400, message_has("revision"), rid=800)
      for name, v in (("string", "1"), ("fraction", 1.5), ("object", {}), ("bool", True),
                      ("sql", "1 OR 1=1"))],
    S("type-is-object", dict(bad(), type={"sync": True}), 400, rid=800),
    *[L(f"load-stores-is-{name}", {"type": "load", "requestId": 800, "stores": v}, 400, rid=800)
      for name, v in (("string", "tasks"), ("object", {"tasks": 1}), ("number", 5),
                      ("true", True))],
    *[L(f"load-requestId-is-{name}", {"type": "load", "requestId": v}, 400)
      for name, v in (("object", {"id": 1}), ("array", [1]), ("bool", False))],
    *[L(f"load-{key}-is-{name}", {"type": "load", "requestId": 800,
                                  "stores": [{"storeId": "tasks", key: v, "pageSize": 2}
                                             if key == "page" else {"storeId": "tasks", key: v}]},
        400, rid=800)
      for key in ("page", "pageSize")
      for name, v in (("sql", "1; DROP TABLE tasks"), ("negative", -1), ("fraction", 1.5),
                      ("too-big", 1000000001), ("int64", 2 ** 62))],
    # the largest page of the largest size: an OFFSET near 10^18, answered with no rows
    L("load-page-at-the-limit",
      {"type": "load", "requestId": 800,
       "stores": [{"storeId": "tasks", "page": 1000000000, "pageSize": 1000000000}]},
      200, rid=800, stores=["tasks"], pages={"tasks": (1000000000, 1000000000)}),

    # -- numbers out of range for the column
    S("int-column-overflow", sync_pkg(tasks={"updated": [{"id": 3, "weight": 99999999999}]}), 422,
      errors_are(("tasks", "id", 3, None)), rid=800),
    S("int-column-overflow-add",
      sync_pkg(tasks={"added": [{"$PhantomId": "_w", "weight": -99999999999}],
                      "updated": [{"id": 1, "name": "rolled back"}]}), 422,
      errors_are(("tasks", "$PhantomId", "_w", None)), rid=800),
    S("int-column-max-plus-one", sync_pkg(tasks={"updated": [{"id": 3, "weight": 2 ** 31}]}), 422,
      errors_are(("tasks", "id", 3, None)), rid=800),
    S("int64-max", sync_pkg(tasks={"updated": [{"id": 3, "weight": 2 ** 63 - 1}]}), 422,
      errors_are(("tasks", "id", 3, None)), rid=800),
    # jansson cannot hold 2^63: the package is not read at all (400, not 422)
    S("int64-max-plus-one", sync_pkg(tasks={"updated": [{"id": 3, "weight": 2 ** 63}]}), 400),
    S("float-1e308-into-int", sync_pkg(tasks={"updated": [{"id": 3, "weight": 1e308}]}), 422,
      errors_are(("tasks", "id", 3, "weight")), rid=800),
    S("float-minus-1e308-into-int-add",
      sync_pkg(tasks={"added": [{"$PhantomId": "_f", "weight": -1e308}]}), 422,
      errors_are(("tasks", "$PhantomId", "_f", "weight")), rid=800),
    S("float-1e400", b'{"type":"sync","tasks":{"updated":[{"id":3,"weight":1e400}]}}', 400),
    S("decimal-column-overflow",
      sync_pkg(assignments={"updated": [{"id": 1, "units": 1e6}, {"id": 2, "units": 1e308}]}),
      422, rid=800),
    S("text-column-overflow",
      lambda: sync_pkg(tasks={"updated": [{"id": 3, "description": "d" * 70000}]}), 422,
      errors_are(("tasks", "id", 3, None)), rid=800),
    S("id-huge-updated", sync_pkg(tasks={"updated": [{"id": 2 ** 62, "name": "x"}]}), 409,
      rid=800),
    S("id-huge-removed", sync_pkg(tasks={"removed": [{"id": 2 ** 62}, {"id": -1}, {"id": 0}]}),
      200, nothing_removed, rid=800),
    S("id-too-big-for-json", b'{"type":"sync","tasks":{"removed":[{"id":9223372036854775808}]}}',
      400),

    # -- duplicates
    S("duplicate-phantom", bad(tasks={"added": [{"$PhantomId": "_same", "name": "a"},
                                                {"$PhantomId": "_same", "name": "b"}]}),
      400, message_has("_same"), rid=800),
    S("duplicate-phantom-number-and-string",
      bad(tasks={"added": [{"$PhantomId": 5, "name": "a"}, {"$PhantomId": "5", "name": "b"}]}),
      400, rid=800),
    S("updated-and-removed", bad(tasks={"updated": [{"id": 3, "name": "x"}],
                                        "removed": [{"id": 3}]}), 400, rid=800),
    S("updated-as-string-and-removed",
      bad(tasks={"updated": [{"id": "3", "name": "x"}], "removed": [{"id": 3}]}), 400, rid=800),
    S("string-id-updated-and-removed",
      bad(columns={"updated": [{"id": "todo", "text": "x"}], "removed": [{"id": "todo"}]}), 400,
      rid=800),
    S("updated-twice", bad(tasks={"updated": [{"id": 3, "name": "x"}, {"id": 3, "weight": 1}]}),
      400, rid=800),
    # the same id removed twice is removed once (not an error)
    S("removed-twice", sync_pkg(tasks={"removed": [{"id": 4}, {"id": 4}]}), 200,
      diff_is({"tasks": {"removed": {4}}, "assignments": {"removed": {7, 8}}}), rid=800),

    # -- client field names that look like SQL are no identifiers: ignored, mapped fields stored
    S("sql-field-names-added",
      sync_pkg(tasks={"added": [dict(FULL_TASK, **{"$PhantomId": "_n"},
                                     **{k: f"hostile {k[:20]}" for k in HOSTILE_KEYS})]}),
      200, full_task_added, rid=800),
    S("sql-field-names-updated",
      sync_pkg(tasks={"updated": [dict({"id": 3, "status": "done"},
                                       **{k: 1 for k in HOSTILE_KEYS})]}),
      200, all_of(diff_is({"tasks": {"changed": {3: {"status"}}}}), db_is(
          "SELECT status FROM tasks WHERE id = 3", [("done",)])), rid=800),
    S("sql-field-names-string-store",
      sync_pkg(columns={"added": [dict({"$PhantomId": "_c", "id": "new", "text": "New"},
                                       **{k: "x" for k in HOSTILE_KEYS})]}),
      200, all_of(diff_is({"columns": {"added": 1}}), db_is(
          "SELECT id, text, color, collapsed, weight FROM `columns` WHERE id = 'new'",
          [("new", "New", None, 0, 0)])), rid=800),
    S("sql-section-names",
      dict(sync_pkg(), **{"tasks; DROP TABLE tasks": {}, "`tasks`": {}, "tasks ": {"x": 1}}),
      200, nothing_removed, rid=800),
    S("sql-section-names-with-changes",
      dict(sync_pkg(), **{"tasks`; DROP TABLE tasks; --": {"removed": [{"id": 1}]}}),
      400, message_has("DROP TABLE"), rid=800),
    L("load-sql-store-keys",
      {"type": "load", "requestId": 800,
       "stores": [{"storeId": "tasks", "`id`; DROP TABLE tasks; --": 1,
                   "sort": [{"field": "name; DROP TABLE tasks", "ascending": False}],
                   "filters": [{"property": "1=1 OR", "value": "'"}], "x" * 10240: "y",
                   "名前": 1, "": None}],
       # lazy loading's params are read (TaskBoardLazyLoad): text in them is refused
       "params": {"startIndex": "0; DROP TABLE tasks", "count": "1 OR 1=1"}},
      400, message_has("params.startIndex"), rid=800),
    L("load-sql-store-keys-no-params",
      {"type": "load", "requestId": 800,
       "stores": [{"storeId": "tasks", "`id`; DROP TABLE tasks; --": 1,
                   "sort": [{"field": "name; DROP TABLE tasks", "ascending": False}],
                   "filters": [{"property": "1=1 OR", "value": "'"}], "x" * 10240: "y",
                   "名前": 1, "": None}]},
      200, rid=800, stores=["tasks"]),
    L("load-sql-store-ids",
      {"type": "load", "requestId": 800,
       "stores": ["tasks; DROP TABLE tasks", "`tasks`", "tasks'", "TASKS", " tasks",
                  {"storeId": "columns' OR '1'='1"}, "columns"]},
      200, rid=800, stores=["columns"]),

    # -- SQL payloads as values: stored verbatim, byte for byte
    *[payload_row(i, p) for i, p in enumerate(SQL_PAYLOADS)],

    # -- and as ids: an auto id must be an integer; a string id is just a string
    *[S(f"auto-id-text-{i}", bad(tasks={"removed": [{"id": t}]}), 400, message_has("removed"),
        rid=800) for i, t in enumerate(AUTO_ID_TEXTS)],
    S("auto-id-sql-updated", bad(tasks={"updated": [{"id": "3 OR 1=1", "name": "x"}]}), 400,
      rid=800),
    S("reference-sql", bad(assignments={"added": [{"$PhantomId": "_a", "eventId": "1 OR 1=1",
                                                   "resourceId": 1}]}),
      400, message_has("1 OR 1=1"), rid=800),
    S("parent-phantom-sql", bad(tasks={"added": [{"$PhantomId": "_t",
                                                  "$PhantomParentId": "'; DROP TABLE tasks; --"}]}),
      400, rid=800),
    *[S(f"string-id-sql-removed-{i}", sync_pkg(columns={"removed": [{"id": t}]}), 200,
        nothing_removed, rid=800)
      for i, t in enumerate(["x' OR '1'='1", "todo' --", "%", "_odo", "*", "todo\\", "' OR ''='"])],
    S("string-id-sql-updated", sync_pkg(columns={"updated": [{"id": "todo' OR '1'='1",
                                                              "text": "x"}]}), 409, rid=800),
    # string ids are compared byte for byte (the sample schema's utf8mb4_nopad_bin)
    S("string-id-case", sync_pkg(columns={"updated": [{"id": "TODO", "text": "x"}]}), 409,
      rid=800),
    S("string-id-trailing-space", sync_pkg(columns={"removed": [{"id": "doing "}]}), 200,
      nothing_removed, rid=800),

    # -- phantom ids are kept in a VARCHAR(191) (the retry table): longer ones are refused up
    # front, counted in bytes
    S("phantom-191-bytes", sync_pkg(tasks={"added": [{"$PhantomId": "p" * 191, "name": "a"}]}),
      200, diff_is({"tasks": {"added": 1}}), rid=800),
    S("phantom-192-bytes", sync_pkg(tasks={"added": [{"$PhantomId": "p" * 192, "name": "a"}]}),
      400, message_has("191"), rid=800),
    S("phantom-64-kanji", sync_pkg(tasks={"added": [{"$PhantomId": "日" * 64, "name": "a"}]}),
      400, message_has("191"), rid=800),
    S("phantom-10k", sync_pkg(tasks={"added": [{"$PhantomId": "p" * 10240, "name": "a"}]}),
      400, message_has("191"), rid=800),
    # a 100,000-character requestId is echoed as sent; it is too long for the request table
    # (VARCHAR(64)), so such a sync is not recorded for replay (the phantom map still is)
    S("requestId-100000-chars", sync_pkg(LONG_RID, tasks={"updated": [{"id": 3, "name": "r"}]}),
      200, all_of(task3_name("r"), request_id_echoed,
                  db_is(f"SELECT COUNT(*) FROM `{RETRY_TABLES[1]}`", [(0,)])), rid=LONG_RID),

    # -- a tree deeper than InnoDB's cascade limit, which any client can build
    # deeper than InnoDB's cascade limit: the module removes the tree from the leaves up
    S("remove-root-of-deep-tree", sync_pkg(tasks={"removed": [{"id": 101}]}), 200,
      diff_is({"tasks": {"removed": set(range(101, 118))}}), rid=800, setup=task_chain(17)),
    S("remove-inside-deep-tree", sync_pkg(tasks={"removed": [{"id": 103}]}), 200,
      diff_is({"tasks": {"removed": set(range(103, 118))}}), rid=800, setup=task_chain(17)),

    # -- body size, content type, transfer encoding
    S("oversize-body", lambda: padded('{"type":"sync","requestId":800,"pad":"', MAX_BODY + 1),
      413, message_has(str(MAX_BODY))),
    S("oversize-body-chunked",
      chunks(padded('{"type":"sync","requestId":800,"pad":"', MAX_BODY + 1), 65536), 413),
    Row("oversize-form", "POST", "/api/sync", FORM_CT,
        lambda: b"data=" + b"%20" * (MAX_BODY // 3 + 1), 413),
    L("load-oversize-body", lambda: padded('{"type":"load","requestId":800,"pad":"', MAX_BODY + 1),
      413),
    # a length that is announced but never sent: refused before anything is read
    Row("oversize-announced", "POST", "/api/sync",
        {"Content-Type": "application/json", "Content-Length": "99999999999999"}, Raw(b""), 413,
        max_s=2),
    S("body-at-the-limit",
      lambda: padded('{"type":"sync","requestId":800,"tasks":{"updated":[{"id":3,"name":"at the '
                     'limit"}]},"pad":"', MAX_BODY), 200, task3_name("at the limit"), rid=800,
      applies=sync_pkg(tasks={"updated": [{"id": 3, "name": "at the limit"}]})),
    *[Row(f"content-type-{name}", "POST", "/api/sync", {"Content-Type": ct},
          json.dumps(bad()).encode(), 415, message_has("content type"))
      for name, ct in (("xml", "application/xml"),
                       ("multipart", "multipart/form-data; boundary=x"),
                       ("jsonp", "application/jsonp"), ("list", "application/json, text/plain"),
                       ("octet", "application/octet-stream"))],
    *[Row(f"load-content-type-{name}", "POST", "/api/load", {"Content-Type": ct},
          b'{"type":"load"}', 415)
      for name, ct in (("xml", "application/xml"), ("multipart", "multipart/form-data; boundary=x"))],
    # no Content-Type at all: the body is read as JSON (docs/protocol.md names only the three types;
    # accepting a missing one is lenient and harmless)
    Row("no-content-type", "POST", "/api/sync", {"Content-Type": None},
        json.dumps(sync_pkg(tasks={"updated": [{"id": 3, "name": "untyped"}]})).encode(), 200,
        task3_name("untyped"), rid=800),
    S("chunked-sync", chunks(json.dumps(sync_pkg(
        tasks={"updated": [{"id": 3, "name": "chunked"}], "added": [
            dict(FULL_TASK, **{"$PhantomId": "_c", "pad": "p" * 20000})]})).encode(), 7),
      200, all_of(db_is("SELECT name FROM tasks WHERE id = 3", [("chunked",)]),
                  diff_is({"tasks": {"added": 1, "changed": {3: {"name"}}}})), rid=800,
      applies=sync_pkg(tasks={"updated": [{"id": 3, "name": "chunked"}],
                              "added": [dict(FULL_TASK, **{"$PhantomId": "_c"})]})),
    L("chunked-load", chunks(REAL_LOAD.encode(), 5), 200, rid=17957455532200,
      stores=["tasks", "resources", "assignments"]),
    # both framings: httpd drops the Content-Length and reads the chunks (RFC 9112 6.3), then
    # closes the connection; the module sees only the chunked body
    Row("content-length-and-chunked", "POST", "/api/sync",
        {"Content-Type": "application/json", "Content-Length": "15",
         "Transfer-Encoding": "chunked"}, Raw(CHUNKED_TE), 200, task3_name("te wins"), rid=800,
        applies=TE_PKG),
    # framing errors are httpd's own: its input filter fails the module's read and httpd sends
    # its own (HTML) error page; the module returns AP_FILTER_ERROR as it should
    Row("bad-chunk-size", "POST", "/api/sync",
        {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        Raw(b'zz\r\n{"type":"sync"}\r\n0\r\n\r\n'), 400, native=True),
    Row("chunk-size-overflow", "POST", "/api/sync",
        {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        Raw(b'ffffffffffffffffffff\r\n{"type":"sync"}\r\n0\r\n\r\n'), 413, native=True),
    Row("negative-content-length", "POST", "/api/sync",
        {"Content-Type": "application/json", "Content-Length": "-1"},
        Raw(b'{"type":"sync"}'), 400, native=True),

    # -- a body trickled in one byte every 0.5 s: mod_reqtimeout cuts it off after BODY_TIMEOUT
    # with a 408 (the module's JSON: its read fails with a timeout), nothing is applied
    Row("trickled-sync", "POST", "/api/sync", JSON_CT,
        Raw(json.dumps(sync_pkg(tasks={"updated": [{"id": 3, "name": "trickled"}]})).encode(),
            trickle=0.5),
        408, trickle_cut, max_s=BODY_TIMEOUT + 4, log=("AH01382",)),
    Row("trickled-load", "POST", "/api/load", JSON_CT, Raw(REAL_LOAD.encode(), trickle=0.5),
        408, trickle_cut, max_s=BODY_TIMEOUT + 4, log=("AH01382",)),

    # -- data= in the query and in the body
    Row("query-and-form-body", "POST", "/api/sync?data=" + q(B), FORM_CT, form(A), 200,
        task3_name("from the body"), rid="body", applies=A),
    Row("query-and-json-body", "POST", "/api/sync?data=" + q(B), JSON_CT, json.dumps(A), 200,
        task3_name("from the body"), rid="body", applies=A),
    # a POST whose body is empty reads the query (the client's paramName with POST puts the
    # package in the URL): docs/operations.md "Request details"
    Row("query-and-empty-body", "POST", "/api/sync?data=" + q(B), JSON_CT, b"", 200,
        task3_name("from the query"), rid="query", applies=B),
    # a form body without the field is treated like an empty body: the query is read.  docs/protocol.md
    # says "the query string is read only when the body is empty"; harmless (the same client
    # wrote both), but docs/protocol.md should say "when the body carries no package"
    Row("query-and-form-body-without-field", "POST", "/api/sync?data=" + q(B), FORM_CT,
        b"other=1&datax=2", 200, task3_name("from the query"), rid="query", applies=B),
    # an explicit empty field in the body is the body's answer: an empty sync
    Row("query-and-empty-form-field", "POST", "/api/sync?data=" + q(B), FORM_CT, b"data=", 400,
        message_has("empty")),
    # the first of two fields wins
    Row("form-field-twice", "POST", "/api/sync", FORM_CT, form(A) + b"&" + form(B), 200,
        task3_name("from the body"), rid="body", applies=A),
    Row("get-sync-with-query", "GET", "/api/sync?data=" + q(A), {}, None, 405),
    Row("put-sync", "PUT", "/api/sync?data=" + q(B), JSON_CT, json.dumps(A), 405),
    Row("load-query-and-json-body", "POST", "/api/load?data=" + q(LOAD_B), JSON_CT,
        json.dumps(LOAD_A), 200, rid="body", stores=["columns"]),
    # GET has no body to the module: the query is read
    Row("load-get-with-body", "GET", "/api/load?data=" + q(LOAD_B), JSON_CT, json.dumps(LOAD_A),
        200, rid="query", stores=["swimlanes"]),
    Row("load-query-twice", "GET", "/api/load?data=" + q(LOAD_A) + "&data=" + q(LOAD_B), {}, None,
        200, rid="body", stores=["columns"]),
    # an empty POST body means "no package": every store, like a GET without data
    L("load-empty-body", b"", 200),
]


# ------------------------------------------------------------------------------------------------
# Sending a row

def raw_send(httpd, method: str, path: str, headers: dict, raw: Raw, timeout: float = 20):
    """Writes the request to a socket; returns a requests.Response, or None when the server closed
    the connection without an answer."""
    hdrs = {"Host": f"127.0.0.1:{httpd.port}", "Connection": "close",
            "X-TB-Test": httpd.env.current_test or "-"}
    hdrs.update({k: v for k, v in headers.items() if v is not None})
    if not any(k.lower() in ("content-length", "transfer-encoding") for k in hdrs):
        hdrs["Content-Length"] = str(len(raw.body))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
    sock = socket.create_connection(("127.0.0.1", httpd.port), timeout=timeout)
    try:
        sock.sendall(head.encode() + b"\r\n")
        try:
            if raw.trickle is None:
                sock.sendall(raw.body)
            else:
                for i in range(len(raw.body)):
                    if select.select([sock], [], [], raw.trickle)[0]:
                        break           # the server answered (or closed): stop sending
                    sock.sendall(raw.body[i:i + 1])
        except OSError:
            pass                        # the server stopped reading: its answer follows
        resp = http.client.HTTPResponse(sock, method=method)
        try:
            resp.begin()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return None
        content = resp.read()
    finally:
        sock.close()
    r = requests.Response()
    r.status_code = resp.status
    r.headers = CaseInsensitiveDict(resp.getheaders())
    r._content = content
    r.encoding = "utf-8"
    r.url = httpd.url(path)
    r.request = requests.Request(method, r.url).prepare()
    return r


def send(httpd, row: Row):
    body = row.body() if callable(row.body) else row.body
    if isinstance(body, Raw):
        return raw_send(httpd, row.method, row.path, row.headers, body)
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    return httpd.request(row.method, row.path, data=body, headers=dict(row.headers))


def applied_package(row: Row):
    if row.applies is not None:
        return row.applies
    body = row.body() if callable(row.body) else row.body
    if isinstance(body, (dict, list)):
        return body
    if isinstance(body, (bytes, str)):
        return jloads(body)
    data = b"".join(body) if not isinstance(body, Raw) else body.body
    return jloads(data)


# ------------------------------------------------------------------------------------------------

class TestHostile:
    """conf/taskboard.conf (with TaskBoardRetryTables) and mod_reqtimeout; the sample data."""

    CONF = CONF
    CACHE_OFF = True
    SAMPLE_DATA = ("test", "teardown")
    # refused requests must not write the retry records either
    tables = tbtest.SAMPLE_TABLES + RETRY_TABLES

    @classmethod
    def prepare_class(cls):
        assert len(RETRY_TABLES) == 2, "the sample configuration has no TaskBoardRetryTables"

    @pytest.mark.parametrize("row", [pytest.param(r, id=r.id, marks=r.marks) for r in ROWS])
    def test_tb_800_01(self, httpd, db, row):
        if row.setup:
            row.setup(db)
        httpd.expect_log(*row.log)
        board = self.board
        kind = "sync" if row.path.startswith("/api/sync") else "load"
        sums = checksums(db, self.tables)
        before = board_state(db, board)
        rev = db.revision(board)

        t0 = time.monotonic()
        resp = send(httpd, row)
        elapsed = time.monotonic() - t0
        assert resp is not None, f"{row.id}: the connection was closed without an answer"
        ctx = SimpleNamespace(resp=resp, db=db, board=board, before=before, rev=rev,
                              elapsed=elapsed, body=None, after=None, diff=None)

        if row.status >= 400:
            if row.native:
                assert resp.status_code == row.status, describe(resp)
                leak = RE_LEAK.search(resp.text)
                assert leak is None, f"the answer reveals {leak.group(0)!r}: {resp.text!r}"
            else:
                checker = check_sync_error if kind == "sync" else check_error
                ctx.body = checker(resp, row.status, request_id=row.rid)
            changed = [t for t, v in checksums(db, self.tables).items() if v != sums[t]]
            assert not changed, f"tables changed although the request was refused: {changed}"
        elif kind == "sync":
            ctx.body = check_sync(resp, board, db, request_id=row.rid)
            ctx.after = board_state(db, board)
            check_sync_result(ctx.body, applied_package(row), board, before, ctx.after)
            ctx.diff = state_diff(before, ctx.after)
            assert ctx.body["revision"] == rev + (1 if ctx.diff else 0), (
                f"revision {ctx.body['revision']} after {rev}, tables changed: {bool(ctx.diff)}")
        else:
            ctx.body = check_load(resp, board, db, stores=row.stores, request_id=row.rid,
                                  pages=row.pages)
            assert checksums(db, self.tables) == sums, "a load changed the tables"

        assert elapsed < row.max_s, f"{row.id}: the answer took {elapsed:.2f} s (> {row.max_s})"
        if row.check:
            row.check(ctx)

        # the server is healthy afterwards: a plain load is the whole board
        check_load(httpd.get("/api/load"), board, db)
