"""Sync requests the module must refuse, and the limits it enforces.

Each refusal is checked on both sides: the error response (tbtest.check_sync_error: status, JSON
{"success":false,"type":"sync","message":…,"code":status}, nothing of the database revealed), and
the database, whose tables must be exactly as before (tbtest.Unchanged: CHECKSUM TABLE of every
sample table).  Every refused package also carries a valid change, so that a partly applied sync
would show.  The sample data is loaded again before each test.
"""

import json
import urllib.parse

import pytest

import boards
import tbtest
from protocol import refused_sync
from tbtest import (MISSING, Unchanged, board_state, check_invalid, check_sync, check_sync_error,
                    check_sync_result, describe, state_diff, sync_post)

def pkg(rid=1, **sections) -> dict:
    """A sync package with protocol.VALID and `sections`."""
    return refused_sync(rid, **sections)


def refused(httpd, db, package, status, request_id=MISSING, path="/api/sync", **kw) -> dict:
    """Sends a package that must be refused with `status`; nothing may change."""
    with Unchanged(db):
        r = sync_post(httpd, package, path=path, **kw)
        return check_sync_error(r, status, request_id=request_id)


def ok_sync(httpd, db, board, package, request_id=MISSING, raises=True):
    before = board_state(db, board)
    rev = db.revision(board)
    body = check_sync(sync_post(httpd, package), board, db, request_id=request_id)
    after = board_state(db, board)
    check_sync_result(body, package, board, before, after)
    assert body["revision"] == rev + (1 if raises else 0)
    return body, state_diff(before, after)


# JSON of the wrong shape: (id, package text).  Each also carries the valid change.
V = '{"id":1,"name":"must not be saved"}'
BAD_SHAPES = [
    ("section-array", '{"type":"sync","requestId":1,"resources":[],"tasks":{"updated":[%s]}}' % V),
    ("section-string",
     '{"type":"sync","requestId":1,"resources":"x","tasks":{"updated":[%s]}}' % V),
    ("section-number", '{"type":"sync","requestId":1,"resources":5,"tasks":{"updated":[%s]}}' % V),
    ("added-object", '{"type":"sync","requestId":1,"tasks":{"added":{},"updated":[%s]}}' % V),
    ("added-string", '{"type":"sync","requestId":1,"tasks":{"added":"x","updated":[%s]}}' % V),
    ("updated-object", '{"type":"sync","requestId":1,"tasks":{"updated":{"id":1}},'
                       '"resources":{"updated":[{"id":1,"name":"x"}]}}'),
    ("removed-number", '{"type":"sync","requestId":1,"tasks":{"removed":5,"updated":[%s]}}' % V),
    ("added-record-number",
     '{"type":"sync","requestId":1,"tasks":{"added":[5],"updated":[%s]}}' % V),
    ("added-record-array", '{"type":"sync","requestId":1,"tasks":{"updated":[%s],'
                           '"added":[["$PhantomId","x"]]}}' % V),
    ("updated-record-string", '{"type":"sync","requestId":1,"tasks":{"updated":[%s,"x"]}}' % V),
    ("removed-record-null", '{"type":"sync","requestId":1,"tasks":{"updated":[%s],'
                            '"removed":[null]}}' % V),
    ("updated-no-id", '{"type":"sync","requestId":1,"tasks":{"updated":[%s,{"name":"x"}]}}' % V),
    ("updated-id-word", '{"type":"sync","requestId":1,"tasks":{"updated":[%s,{"id":"abc"}]}}' % V),
    ("updated-id-fraction",
     '{"type":"sync","requestId":1,"tasks":{"updated":[%s,{"id":3.5}]}}' % V),
    ("updated-id-bool", '{"type":"sync","requestId":1,"tasks":{"updated":[%s,{"id":true}]}}' % V),
    ("updated-id-null", '{"type":"sync","requestId":1,"tasks":{"updated":[%s,{"id":null}]}}' % V),
    ("removed-id-object", '{"type":"sync","requestId":1,"tasks":{"updated":[%s],'
                          '"removed":[{"id":{"id":3}}]}}' % V),
    ("removed-id-array", '{"type":"sync","requestId":1,"tasks":{"updated":[%s],'
                         '"removed":[{"id":[3]}]}}' % V),
    ("removed-no-id", '{"type":"sync","requestId":1,"tasks":{"updated":[%s],"removed":[{}]}}' % V),
    ("string-store-id-null", '{"type":"sync","requestId":1,"tasks":{"updated":[%s]},'
                             '"columns":{"updated":[{"id":null,"text":"x"}]}}' % V),
    ("string-store-id-object", '{"type":"sync","requestId":1,"tasks":{"updated":[%s]},'
                               '"columns":{"removed":[{"id":{"a":1}}]}}' % V),
    ("string-store-id-bool", '{"type":"sync","requestId":1,"tasks":{"updated":[%s]},'
                             '"columns":{"updated":[{"id":true,"text":"x"}]}}' % V),
    ("revision-string",
     '{"type":"sync","requestId":1,"revision":"1","tasks":{"updated":[%s]}}' % V),
    ("revision-fraction",
     '{"type":"sync","requestId":1,"revision":1.5,"tasks":{"updated":[%s]}}' % V),
    ("type-load", '{"type":"load","requestId":1,"tasks":{"updated":[%s]}}' % V),
    ("type-other", '{"type":"foo","requestId":1,"tasks":{"updated":[%s]}}' % V),
]

MALFORMED = [
    ("empty", b""),
    ("truncated", b'{"type":"sync","requestId":1,"tasks":{"updated":[{"id":1,"name":"x"}]}'),
    ("trailing-garbage", b'{"type":"sync","tasks":{"updated":[{"id":1,"name":"x"}]}} x'),
    ("two-packages", b'{"type":"sync","tasks":{"updated":[{"id":1,"name":"x"}]}}{"type":"sync"}'),
    ("array", b'[{"type":"sync","tasks":{"updated":[{"id":1,"name":"x"}]}}]'),
    ("string", b'"sync"'),
    ("invalid-utf8", b'{"type":"sync","tasks":{"updated":[{"id":1,"name":"\xff\xfe"}]}}'),
    ("deep-nesting", b'{"type":"sync","tasks":{"updated":[{"id":1,"meta":' + b"[" * 100000),
]

# One invalid value each: (id, store, record, field).  The record is an update of an existing
# row (an int id) or an add (a phantom id string); the field is the one the 422 must name.
SINGLE_INVALID = [
    ("int-word", "tasks", {"id": 3, "weight": "abc"}, "weight"),
    ("int-fraction", "tasks", {"id": 3, "weight": 5.5}, "weight"),
    ("int-bool", "tasks", {"id": 3, "weight": True}, "weight"),
    ("int-object", "tasks", {"id": 3, "weight": {"v": 1}}, "weight"),
    ("bool-word", "tasks", {"id": 3, "readOnly": "yes"}, "readOnly"),
    ("bool-two", "resources", {"id": 2, "active": 2}, "active"),
    ("number-word", "assignments", {"id": 1, "units": "lots"}, "units"),
    ("values", "tasks", {"id": 3, "status": "blocked"}, "status"),
    ("values-case", "tasks", {"id": 3, "prio": "HIGH"}, "prio"),
    ("maxlength", "tasks", {"id": 3, "eventColor": "x" * 51}, "eventColor"),
    ("maxlength-add", "resources", {"$PhantomId": "_r", "name": "n" * 101}, "name"),
    ("required-null", "tasks", {"id": 3, "name": None}, "name"),
    ("required-empty", "tasks", {"id": 3, "name": ""}, "name"),
    ("required-null-with-default", "tasks", {"id": 3, "status": None}, "status"),
    ("required-add-no-default", "resources", {"$PhantomId": "_r", "email": "x@example.com"},
     "name"),
    ("required-ref-null", "assignments", {"id": 1, "resourceId": None}, "resourceId"),
    ("date-feb-30", "tasks", {"id": 3, "deadline": "2024-02-30"}, "deadline"),
    ("date-feb-29-no-leap", "tasks", {"id": 3, "deadline": "2023-02-29"}, "deadline"),
    ("date-month-13", "tasks", {"id": 3, "deadline": "2024-13-01"}, "deadline"),
    ("date-day-0", "tasks", {"id": 3, "deadline": "2024-03-00"}, "deadline"),
    ("date-short", "tasks", {"id": 3, "deadline": "2024-3-5"}, "deadline"),
    ("date-european", "tasks", {"id": 3, "deadline": "05.03.2024"}, "deadline"),
    ("date-empty", "tasks", {"id": 3, "deadline": ""}, "deadline"),
    ("date-number", "tasks", {"id": 3, "deadline": 20240305}, "deadline"),
    ("date-iso-bad-day", "tasks", {"id": 3, "deadline": "2024-02-30T10:00:00Z"}, "deadline"),
    ("datetime-word", "tasks", {"id": 3, "startDate": "yesterday"}, "startDate"),
    ("datetime-feb-30", "tasks", {"id": 3, "startDate": "2024-02-30T10:00:00Z"}, "startDate"),
    ("datetime-hour-25", "tasks", {"id": 3, "startDate": "2024-03-05T25:00:00Z"}, "startDate"),
    ("datetime-minute-60", "tasks", {"id": 3, "startDate": "2024-03-05T10:60:00Z"}, "startDate"),
    ("datetime-offset-25h", "tasks", {"id": 3, "startDate": "2024-03-05T10:30:00+25:00"},
     "startDate"),
    ("datetime-empty", "tasks", {"id": 3, "startDate": ""}, "startDate"),
    ("datetime-number", "tasks", {"id": 3, "startDate": 1709634600}, "startDate"),
]


class TestSyncErrors:
    """The shipped conf/taskboard.conf and the sample data."""

    CONF = tbtest.sample_test_conf()
    CACHE_OFF = True
    SAMPLE_DATA = ("test", "teardown")

    @pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
    def test_tb_610_01(self, httpd, db, method):
        # only POST: other methods get 405 with Allow: POST, even with a sync package in the
        # query or body, and nothing is applied
        q = "data=" + urllib.parse.quote(json.dumps(pkg(1)), safe="")
        with Unchanged(db):
            r = httpd.request(method, "/api/sync?" + q, data=json.dumps(pkg(1)).encode(),
                              headers={"Content-Type": "application/json"})
            check_sync_error(r, 405)
        allow = {m.strip().upper() for m in r.headers.get("Allow", "").split(",")}
        assert allow == {"POST", "OPTIONS"}, f"Allow: {r.headers.get('Allow')!r}"

    def test_tb_610_02(self, httpd, db):
        # OPTIONS names the methods the sync URL takes
        r = httpd.request("OPTIONS", "/api/sync")
        assert r.status_code in (200, 204, 405), describe(r)
        allow = {m.strip().upper() for m in r.headers.get("Allow", "").split(",")}
        assert "POST" in allow and "GET" not in allow, (
            f"OPTIONS /api/sync: Allow: {r.headers.get('Allow')!r}")

    @pytest.mark.parametrize("ctype", ["application/xml", "image/png", "application/octet-stream",
                                       "multipart/form-data; boundary=x"])
    def test_tb_610_03(self, httpd, db, ctype):
        # content types the module does not read: 415
        refused(httpd, db, pkg(3), 415, ctype=ctype)

    @pytest.mark.parametrize("case", MALFORMED, ids=[c[0] for c in MALFORMED])
    def test_tb_610_04(self, httpd, db, case):
        # malformed JSON, as a body and as a form field
        name, raw = case
        refused(httpd, db, raw, 400)
        refused(httpd, db, b"data=" + urllib.parse.quote_from_bytes(raw, safe="").encode(), 400,
                ctype="application/x-www-form-urlencoded")

    @pytest.mark.parametrize("case", BAD_SHAPES, ids=[c[0] for c in BAD_SHAPES])
    def test_tb_610_05(self, httpd, db, case):
        # JSON of the wrong shape: 400 and the requestId echoed; the valid part is not applied
        name, text = case
        refused(httpd, db, text, 400, request_id=1)

    def test_tb_610_06(self, httpd, db):
        # the same record updated and removed, or updated twice, in one store: 400
        for p in (pkg(6, tasks={"updated": [{"id": 3, "name": "x"}], "removed": [{"id": 3}]}),
                  pkg(6, tasks={"updated": [{"id": 1, "name": "a"}, {"id": 3, "name": "x"},
                                            {"id": 3, "weight": 2}]}),
                  pkg(6, columns={"updated": [{"id": "todo", "text": "x"}],
                                  "removed": [{"id": "todo"}]}),
                  pkg(6, columns={"updated": [{"id": "todo", "text": "x"},
                                              {"id": "todo", "color": "red"}]})):
            refused(httpd, db, p, 400, request_id=6)
        # the same id updated in one store and removed in another is two records
        ok_sync(httpd, db, self.board, {"type": "sync", "requestId": 7,
                                        "tasks": {"updated": [{"id": 3, "name": "kept"}]},
                                        "assignments": {"removed": [{"id": 3}]}}, request_id=7)

    def test_tb_610_07(self, httpd, db):
        # a section with changes for a store this location does not serve fails the whole sync
        # and the message names the store; empty sections of such stores are harmless
        for part, recs in (("added", [{"$PhantomId": "_c"}]), ("updated", [{"id": 1}]),
                           ("removed", [{"id": 1}])):
            body = refused(httpd, db, pkg(7, calendars={part: recs}), 400, request_id=7)
            assert "calendars" in body["message"], body["message"]
        body, diff = ok_sync(httpd, db, self.board, {
            "type": "sync", "requestId": 8, "calendars": {},
            "dependencies": {"added": [], "updated": [], "removed": []},
            "tasks": {"updated": [{"id": 1, "name": "saved"}]}}, request_id=8)
        assert set(diff) == {"tasks"}

    def test_tb_610_08(self, httpd, db):
        # an added record needs its $PhantomId, unique within its store's added
        for added in ([{"name": "no phantom"}],
                      [{"$PhantomId": None, "name": "null phantom"}],
                      [{"$PhantomId": "_same", "name": "a"}, {"$PhantomId": "_same", "name": "b"}]):
            body = refused(httpd, db, pkg(8, tasks={"added": added}), 400, request_id=8)
            assert "$PhantomId" in body["message"], body["message"]

    def test_tb_610_09(self, httpd, db):
        # a string in a reference field that is no phantom id of this sync: 400 naming it
        for p in (pkg(9, assignments={"added": [{"$PhantomId": "_a", "eventId": "_ghost_task",
                                                 "resourceId": 1}]}),
                  pkg(9, tasks={"added": [{"$PhantomId": "_t", "name": "t"}]},
                      assignments={"updated": [{"id": 1, "eventId": "_ghost_task"}]}),
                  pkg(9, tasks={"added": [{"$PhantomId": "_t", "parentId": "_ghost_task"}]}),
                  # a phantom id of another store does not count
                  pkg(9, resources={"added": [{"$PhantomId": "_ghost_task", "name": "r"}]},
                      assignments={"added": [{"$PhantomId": "_a", "eventId": "_ghost_task",
                                              "resourceId": 1}]})):
            body = refused(httpd, db, p, 400, request_id=9)
            assert "_ghost_task" in body["message"], body["message"]

    def test_tb_610_10(self, httpd, db):
        # every validation problem of the batch at once: 422 with one entry per value, and
        # nothing written (the batch also holds valid records)
        p = {"type": "sync", "requestId": 10, "revision": 1,
             "tasks": {"added": [{"$PhantomId": "_t1", "name": "x" * 256, "status": "blocked",
                                  "weight": "abc", "readOnly": "yes", "deadline": "2024-02-30",
                                  "startDate": "tomorrow"},
                                 {"$PhantomId": "_t2", "weight": 5.5, "prio": "urgent"},
                                 {"$PhantomId": "_ok", "name": "valid"}],
                       "updated": [{"id": 1, "name": "valid"},
                                   {"id": 3, "name": "", "status": None},
                                   {"id": 4, "name": None, "eventColor": "c" * 51}],
                       "removed": [{"id": 5}]},
             "resources": {"added": [{"$PhantomId": "_r", "active": "no"}],
                           "updated": [{"id": 2, "name": "n" * 101}]},
             "assignments": {"added": [{"$PhantomId": "_a", "units": "lots"},
                                       {"$PhantomId": "_a2", "eventId": "_ok", "resourceId": 1}]},
             "columns": {"added": [{"$PhantomId": "_c", "id": "later"}],
                         "updated": [{"id": "todo", "text": None, "collapsed": "no"}]}}
        expected = [("tasks", "$PhantomId", "_t1", f)
                    for f in ("name", "status", "weight", "readOnly", "deadline", "startDate")]
        expected += [("tasks", "$PhantomId", "_t2", "weight"),
                     ("tasks", "$PhantomId", "_t2", "prio"),
                     ("tasks", "id", 3, "name"), ("tasks", "id", 3, "status"),
                     ("tasks", "id", 4, "name"), ("tasks", "id", 4, "eventColor"),
                     ("resources", "$PhantomId", "_r", "name"),
                     ("resources", "$PhantomId", "_r", "active"),
                     ("resources", "id", 2, "name"),
                     ("assignments", "$PhantomId", "_a", "eventId"),
                     ("assignments", "$PhantomId", "_a", "resourceId"),
                     ("assignments", "$PhantomId", "_a", "units"),
                     ("columns", "$PhantomId", "_c", "text"),
                     ("columns", "id", "todo", "text"), ("columns", "id", "todo", "collapsed")]
        with Unchanged(db):
            check_invalid(sync_post(httpd, p), expected, request_id=10)

    @pytest.mark.parametrize("case", SINGLE_INVALID, ids=[c[0] for c in SINGLE_INVALID])
    def test_tb_610_11(self, httpd, db, case):
        # one invalid value: 422 naming the store, the record and the field
        name, store, rec, field = case
        part = "updated" if "id" in rec else "added"
        key = ("id", rec["id"]) if "id" in rec else ("$PhantomId", rec["$PhantomId"])
        with Unchanged(db):
            check_invalid(sync_post(httpd, pkg(11, **{store: {part: [rec]}})),
                          [(store, key[0], key[1], field)], request_id=11)

    def test_tb_610_12(self, httpd, db):
        # maxlength counts characters, not bytes: 255 three- and four-byte characters fit a
        # maxlength=255 field (and the VARCHAR(255) column), 256 do not
        for ch in ("日", "😀"):
            # a phantom id of its own each time: the same one again would be a retry (test_650)
            ok_sync(httpd, db, self.board, {"type": "sync", "requestId": 12, "tasks": {
                "updated": [{"id": 3, "name": ch * 255}],
                "added": [{"$PhantomId": "_t" + ch, "name": ch * 255}]}}, request_id=12)
            assert db.query("SELECT CHAR_LENGTH(name), LENGTH(name), name = %s FROM tasks "
                            "WHERE id = 3", (ch * 255,)) == [(255, 255 * len(ch.encode()), 1)]
            with Unchanged(db):
                check_invalid(sync_post(httpd, pkg(13, tasks={
                    "updated": [{"id": 3, "name": ch * 256}],
                    "added": [{"$PhantomId": "_t", "name": ch * 256}]})),
                    [("tasks", "id", 3, "name"), ("tasks", "$PhantomId", "_t", "name")],
                    request_id=13)

    def test_tb_610_13(self, httpd, db):
        # values= and required accept what they should: null for a field that is not required,
        # every allowed value, and a required field omitted on add when it has a default
        body, diff = ok_sync(httpd, db, self.board, {"type": "sync", "requestId": 13, "tasks": {
            "updated": [{"id": i + 1, "status": s, "prio": p} for i, (s, p) in enumerate(
                [("todo", None), ("doing", "high"), ("review", "medium"), ("done", "low")])],
            "added": [{"$PhantomId": "_t", "prio": None}]}}, request_id=13)
        t = [x for x in body["tasks"]["rows"] if x.get("$PhantomId") == "_t"][0]
        assert t["prio"] is None and t["name"] and t["status"]
        assert db.scalar("SELECT prio FROM tasks WHERE id = %s", (t["id"],)) is None

    def test_tb_610_14(self, httpd, db):
        # more records than TaskBoardMaxRecords (default 5000, counted over all stores): 400
        # naming the limit; exactly 5000 are accepted
        gone = db.scalar("SELECT MAX(id) FROM tasks") + 100000
        many = {"type": "sync", "requestId": 14,
                "tasks": {"removed": [{"id": gone + i} for i in range(2500)]},
                "assignments": {"removed": [{"id": gone + i} for i in range(2500)]}}
        one_more = json.loads(json.dumps(many))
        one_more["resources"] = {"updated": [{"id": 1, "name": "too many"}]}
        body = refused(httpd, db, one_more, 400, request_id=14)
        assert "5000" in body["message"], body["message"]
        with Unchanged(db, tbtest.ALL_BUT_ANSWERS):
            ok_sync(httpd, db, self.board, many, request_id=14, raises=False)


class TestSyncFullErrors:
    """boards.board_conf(): prio has no maxlength, so only the VARCHAR(20) column limits it."""

    CONF = boards.board_conf()
    CACHE_OFF = True
    SAMPLE_DATA = ("test", "teardown")

    def test_tb_610_20(self, httpd, db):
        # a value the config allows but the column cannot hold, in the last record of a batch:
        # 422 from the database, and everything before it is rolled back
        width = db.scalar("SELECT CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS "
                          "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'tasks' "
                          "AND COLUMN_NAME = 'prio'")
        p = {"type": "sync", "requestId": 20,
             "tasks": {"added": [{"$PhantomId": "_t", "name": "rolled back"}],
                       "updated": [{"id": 1, "name": "rolled back"},
                                   {"id": 2, "prio": "p" * (width + 1)}],
                       "removed": [{"id": 5}]},
             "resources": {"added": [{"$PhantomId": "_r", "name": "rolled back"}]},
             "assignments": {"added": [{"$PhantomId": "_a", "eventId": "_t", "resourceId": "_r"}],
                             "removed": [{"id": 1}]}}
        with Unchanged(db):
            body = check_sync_error(sync_post(httpd, p), 422, request_id=20)
        errors = body.get("errors")
        assert isinstance(errors, list) and len(errors) == 1, body
        assert errors[0].get("store") == "tasks" and errors[0].get("id") == 2, errors
        # the column's width is the limit: one character less is saved
        p["tasks"]["updated"][1]["prio"] = "p" * width
        body, diff = ok_sync(httpd, db, self.board, p, request_id=20)
        assert db.scalar("SELECT prio FROM tasks WHERE id = 2") == "p" * width


class TestSyncLimits:
    """TaskBoardMaxRecords and TaskBoardMaxBodySize."""

    MAX_RECORDS = 3
    MAX_BODY = 2048
    CONF = boards.board_conf(extra=f"    TaskBoardMaxRecords {MAX_RECORDS}\n"
                                   f"    TaskBoardMaxBodySize {MAX_BODY}\n")
    CACHE_OFF = True
    SAMPLE_DATA = ("test", "teardown")

    def test_tb_610_30(self, httpd, db):
        # added + updated + removed over all stores above the limit: 400 naming it
        four = {"type": "sync", "requestId": 30,
                "tasks": {"added": [{"$PhantomId": "_t", "name": "t"}]},
                "resources": {"updated": [{"id": 1, "name": "r"}]},
                "assignments": {"removed": [{"id": 1}]},
                "columns": {"updated": [{"id": "todo", "text": "c"}]}}
        body = refused(httpd, db, four, 400, request_id=30)
        assert str(self.MAX_RECORDS) in body["message"], body["message"]
        del four["columns"]
        ok_sync(httpd, db, self.board, four, request_id=30)

    def test_tb_610_31(self, httpd, db):
        # a body over TaskBoardMaxBodySize: 413, with a length or chunked; just below: saved
        def package(size):
            p = {"type": "sync", "requestId": 31,
                 "tasks": {"updated": [{"id": 1, "description": ""}]}}
            p["tasks"]["updated"][0]["description"] = "d" * (size - len(json.dumps(p)))
            data = json.dumps(p).encode()
            assert len(data) == size
            return data

        def chunked(data):
            for i in range(0, len(data), 500):
                yield data[i:i + 500]

        big = package(self.MAX_BODY + 1)
        refused(httpd, db, big, 413)
        with Unchanged(db):
            r = httpd.post("/api/sync", data=chunked(big), headers={"Content-Type":
                                                                    "application/json"})
            check_sync_error(r, 413)
        ok_sync(httpd, db, self.board, json.loads(package(self.MAX_BODY)), request_id=31)


class TestSyncRange:
    """min= and max= on int and number fields."""

    STORES = """\
    TaskBoardRevision options value name=revision
    <TaskBoardStore tasks>
        TaskBoardField name   string "default=New task"
        TaskBoardField weight int    min=-10 max=1000
    </TaskBoardStore>
    <TaskBoardStore assignments>
        TaskBoardField eventId    int    column=event    required references=tasks
        TaskBoardField resourceId int    column=resource required
        TaskBoardField units      number min=0 max=100
    </TaskBoardStore>
"""
    CONF = boards.board_conf(stores=STORES)
    CACHE_OFF = True
    SAMPLE_DATA = ("test", "teardown")

    def test_tb_610_40(self, httpd, db):
        # values outside the range: 422 for each, nothing written
        p = {"type": "sync", "requestId": 40,
             "tasks": {"updated": [{"id": 1, "weight": -11}, {"id": 2, "weight": 1001},
                                   {"id": 3, "weight": 1000}],
                       "added": [{"$PhantomId": "_t", "weight": 2147483647}]},
             "assignments": {"updated": [{"id": 1, "units": 100.01}, {"id": 2, "units": -0.5},
                                         {"id": 3, "units": 0}],
                             "added": [{"$PhantomId": "_a", "eventId": 1, "resourceId": 3,
                                        "units": 1e6}]}}
        with Unchanged(db):
            check_invalid(sync_post(httpd, p), [
                ("tasks", "id", 1, "weight"), ("tasks", "id", 2, "weight"),
                ("tasks", "$PhantomId", "_t", "weight"),
                ("assignments", "id", 1, "units"), ("assignments", "id", 2, "units"),
                ("assignments", "$PhantomId", "_a", "units")], request_id=40)

    def test_tb_610_41(self, httpd, db):
        # the bounds themselves are inside
        body, diff = ok_sync(httpd, db, self.board, {
            "type": "sync", "requestId": 41,
            "tasks": {"updated": [{"id": 1, "weight": -10}, {"id": 2, "weight": 1000}]},
            "assignments": {"updated": [{"id": 1, "units": 0}, {"id": 2, "units": 100}]}},
            request_id=41)
        assert db.query("SELECT id, weight FROM tasks WHERE id IN (1, 2) ORDER BY id") == \
            [(1, -10), (2, 1000)]
        assert [float(u) for (u,) in db.query("SELECT units FROM assignments WHERE id IN (1, 2) "
                                              "ORDER BY id")] == [0.0, 100.0]
