"""Values of a megabyte and more (issue 14, point 5): every path that reads rows gives them back
whole and byte for byte.

The MySQL driver of apr_dbd gives each column of a prepared statement's result a buffer of
min(column length, DBDParams fldsz) + 1 bytes (fldsz 1048575 by default, so 1 MiB), and
apr_dbd_get_entry hands out that buffer: a longer value came back cut at 1,048,576 bytes, and a
value that fills the buffer has no NUL after it.  Loads of whole unscoped tables read through the
text protocol, which has no such limit; pages, scoped boards, sync answers, journal deltas and
replayed answers read through prepared statements.  Each path gets rows holding values just
under, exactly at and over the buffer's size, in a text (LONGTEXT), a string (MEDIUMTEXT) and a
json (JSON) field.
"""

import json
import urllib.parse

import pytest

from tbtest import check_error, describe, json_body, sync_post

BUF = 1048576               # the driver's buffer per column: fldsz (1048575) + 1
BIG = 1100011               # the size seen cut short in the issue
SIZES = (BUF - 1, BUF, BUF + 1, BIG)

NOTES = """\
    <TaskBoardStore notes>
        TaskBoardTable {table}
        TaskBoardField title string maxlength=100
        TaskBoardField body  text
        TaskBoardField label string
        TaskBoardField meta  json
    </TaskBoardStore>
"""

# /bu: one board on bv_notes, cached; /bs: the same, never cached (full loads streamed);
# /bv: boards in bv_board_notes (TaskBoardScope, ?board=N).
CONF = f"""\
<Location /bu>
    TaskBoardRevision bv_options value name=revision
    TaskBoardJournal bv_journal
    TaskBoardConflictPolicy record
    TaskBoardRetryTables bv_phantoms bv_requests
    TaskBoardMaxBodySize 16777216
{NOTES.format(table="bv_notes")}</Location>
<Location /bs>
    TaskBoardRevision bv_options value name=revision
    TaskBoardLoadCache Off
{NOTES.format(table="bv_notes")}</Location>
<Location /bv>
    TaskBoardScope board_id param=board int
    TaskBoardRevision bv_boards revision id
    TaskBoardJournal bv_board_journal
    TaskBoardConflictPolicy record
    TaskBoardRetryTables bv_board_phantoms bv_board_requests
    TaskBoardMaxBodySize 16777216
{NOTES.format(table="bv_board_notes")}</Location>
<LocationMatch "^/b[usv]/load$">
    SetHandler taskboard-load
</LocationMatch>
<LocationMatch "^/b[uv]/sync$">
    SetHandler taskboard-sync
</LocationMatch>
"""

TABLES = ("bv_notes", "bv_options", "bv_journal", "bv_phantoms", "bv_requests",
          "bv_board_notes", "bv_boards", "bv_board_journal", "bv_board_phantoms",
          "bv_board_requests")

CHARSET = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"
BIN = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin"
DDL = [
    f"""CREATE TABLE bv_options (name VARCHAR(50) NOT NULL PRIMARY KEY,
        value BIGINT NOT NULL) {CHARSET}""",
    f"""CREATE TABLE bv_notes (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        title VARCHAR(100) NOT NULL DEFAULT '', body LONGTEXT NULL, label MEDIUMTEXT NULL,
        meta JSON NULL) {CHARSET}""",
    f"""CREATE TABLE bv_journal (revision BIGINT NOT NULL, tbl VARCHAR(64) NOT NULL,
        record_id VARCHAR(191) NOT NULL, operation VARCHAR(8) NOT NULL,
        changed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
        PRIMARY KEY (revision, tbl, record_id), KEY idx_changed (changed_at)) {BIN}""",
    f"""CREATE TABLE bv_phantoms (tbl VARCHAR(64) NOT NULL, phantom VARCHAR(191) NOT NULL,
        user VARCHAR(255) NOT NULL DEFAULT '',
        real_id VARCHAR(191) NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
        PRIMARY KEY (tbl, phantom, user), KEY idx_created (created_at)) {BIN}""",
    f"""CREATE TABLE bv_requests (request_id VARCHAR(64) NOT NULL, body_hash CHAR(40) NOT NULL,
        response MEDIUMTEXT NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
        PRIMARY KEY (request_id, body_hash), KEY idx_created (created_at)) {BIN}""",
    f"""CREATE TABLE bv_boards (id INT NOT NULL PRIMARY KEY,
        revision BIGINT NOT NULL DEFAULT 1) {CHARSET}""",
    f"""CREATE TABLE bv_board_notes (id INT NOT NULL AUTO_INCREMENT, board_id INT NOT NULL,
        title VARCHAR(100) NOT NULL DEFAULT '', body LONGTEXT NULL, label MEDIUMTEXT NULL,
        meta JSON NULL, PRIMARY KEY (board_id, id), UNIQUE KEY uk_id (id)) {CHARSET}""",
    f"""CREATE TABLE bv_board_journal (board_id INT NOT NULL, revision BIGINT NOT NULL,
        tbl VARCHAR(64) NOT NULL, record_id VARCHAR(191) NOT NULL, operation VARCHAR(8) NOT NULL,
        changed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
        PRIMARY KEY (board_id, revision, tbl, record_id), KEY idx_changed (changed_at)) {BIN}""",
    f"""CREATE TABLE bv_board_phantoms (board_id INT NOT NULL, tbl VARCHAR(64) NOT NULL,
        phantom VARCHAR(191) NOT NULL, user VARCHAR(255) NOT NULL DEFAULT '',
        real_id VARCHAR(191) NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
        PRIMARY KEY (board_id, tbl, phantom, user), KEY idx_created (created_at)) {BIN}""",
    f"""CREATE TABLE bv_board_requests (board_id INT NOT NULL, request_id VARCHAR(64) NOT NULL,
        body_hash CHAR(40) NOT NULL, response MEDIUMTEXT NOT NULL,
        created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
        PRIMARY KEY (board_id, request_id, body_hash), KEY idx_created (created_at)) {BIN}""",
]


def text_of(nbytes: int, tag: str) -> str:
    """Exactly nbytes of UTF-8: numbered pieces with 2-, 3- and 4-byte characters, so that a
    value cut anywhere (or with bytes added) differs, padded with ASCII to the exact size."""
    parts, size, i = [], 0, 0
    while size < nbytes:
        piece = f"{tag}{i:07d}·äö€😀 "
        parts.append(piece)
        size += len(piece.encode("utf-8"))
        i += 1
    data = "".join(parts).encode("utf-8")[:nbytes]
    text = data.decode("utf-8", "ignore")
    return text + "x" * (nbytes - len(text.encode("utf-8")))


def json_of(nbytes: int, tag: str) -> str:
    """A JSON object text of exactly nbytes."""
    frame = '{"n":""}'
    return '{"n":"' + text_of(nbytes - len(frame), tag) + '"}'


def nbytes(s) -> int:
    return len(s.encode("utf-8")) if isinstance(s, str) else -1


def same_text(what: str, got, want: str):
    """A short message for a long string: sizes and the first byte that differs."""
    if got == want:
        return
    if not isinstance(got, str):
        raise AssertionError(f"{what}: got {type(got).__name__} {str(got)[:80]!r}, "
                             f"expected a string of {nbytes(want)} bytes")
    g, w = got.encode("utf-8"), want.encode("utf-8")
    at = next((i for i, (a, b) in enumerate(zip(g, w)) if a != b), min(len(g), len(w)))
    raise AssertionError(f"{what}: {len(g)} bytes, expected {len(w)} (first difference at byte "
                         f"{at}: {g[at:at + 24]!r} instead of {w[at:at + 24]!r})")


def same_json(what: str, got, want_text: str):
    """json fields go through the module's JSON parser: equal as values, and the string inside
    byte for byte."""
    want = json.loads(want_text)
    if got == want:
        return
    if isinstance(got, dict) and isinstance(got.get("n"), str):
        same_text(what + ".n", got["n"], want["n"])
    raise AssertionError(f"{what}: got {type(got).__name__} {str(got)[:80]!r}, expected an "
                         f"object with a string of {nbytes(want['n'])} bytes")


def check_note(what: str, rec: dict, want: dict):
    """rec (as the module sent it) against want (title/body/label/meta as stored)."""
    assert isinstance(rec, dict), f"{what}: {str(rec)[:200]}"
    for k in ("title", "body", "label"):
        if k in want:
            assert k in rec, f"{what}: no {k} in {sorted(rec)}"
            if want[k] is None:
                assert rec[k] is None, f"{what}.{k}: {str(rec[k])[:80]!r}, expected null"
            else:
                same_text(f"{what}.{k}", rec[k], want[k])
    if "meta" in want:
        assert "meta" in rec, f"{what}: no meta in {sorted(rec)}"
        if want["meta"] is None:
            assert rec["meta"] is None, f"{what}.meta: {str(rec['meta'])[:80]!r}"
        else:
            same_json(f"{what}.meta", rec["meta"], want["meta"])


# Rows 1 and 2 hold a value of each size in some field; row 3 is small (it comes after the big
# ones through the same buffers); row 4 has NULLs.
def seed_rows(tag: str):
    return [
        {"title": "one", "body": text_of(BIG, tag + "b1"), "label": text_of(BUF, tag + "l1"),
         "meta": json_of(BUF - 1, tag + "m1")},
        {"title": "two", "body": text_of(BUF, tag + "b2"), "label": text_of(BUF + 1, tag + "l2"),
         "meta": json_of(BIG, tag + "m2")},
        {"title": "three", "body": "short", "label": "small", "meta": '{"n":"tiny"}'},
        {"title": "four", "body": None, "label": None, "meta": None},
    ]


def load_path(path: str, rid, **pkg) -> str:
    return path + "?data=" + urllib.parse.quote(
        json.dumps({"type": "load", "requestId": rid, **pkg}), safe="")


def as_sent(rec: dict) -> dict:
    """A record as a client sends it: meta as a JSON object, not its text."""
    return {k: json.loads(v) if k == "meta" and v is not None else v for k, v in rec.items()}


def post_sync(httpd, path: str, package: dict):
    # raw UTF-8 (not \u escapes), so that the body stays near the values' own size
    return sync_post(httpd, json.dumps(package, ensure_ascii=False).encode("utf-8"), path=path)


def ok(resp, kind: str = "load") -> dict:
    assert resp.status_code == 200, describe(resp, 300)
    body = json_body(resp)
    assert body.get("success") is True and body.get("type") == kind, describe(resp, 300)
    return body


class BigValues:
    """The tables, the locations, and fresh rows before each test."""

    CONF = CONF

    @classmethod
    def prepare_class(cls, db):
        for t in TABLES:
            db.execute(f"DROP TABLE IF EXISTS `{t}`")
        for sql in DDL:
            db.execute(sql)

    @classmethod
    def cleanup_class(cls, db):
        for t in TABLES:
            db.execute(f"DROP TABLE IF EXISTS `{t}`")

    def seed(self, db, tag: str = "s"):
        """Rows 1-4 in bv_notes and in board 1 of bv_board_notes, a small row of board 2, new
        revisions, empty journals and retry tables.  Returns the rows by id."""
        rows = seed_rows(tag)
        # revisions above the last test's, so that no answer cached for it is reused
        last = db.scalar("SELECT GREATEST(COALESCE((SELECT MAX(value) FROM bv_options), 0), "
                         "COALESCE((SELECT MAX(revision) FROM bv_boards), 0))")
        for t in TABLES:
            db.execute(f"DELETE FROM `{t}`")
        db.execute("INSERT INTO bv_options (name, value) VALUES ('revision', %s)",
                   (int(last) + 100,))
        db.execute("INSERT INTO bv_boards (id, revision) VALUES (1, %s), (2, %s)",
                   (int(last) + 100, int(last) + 100))
        for i, r in enumerate(rows, 1):
            db.execute("INSERT INTO bv_notes (id, title, body, label, meta) "
                       "VALUES (%s, %s, %s, %s, %s)",
                       (i, r["title"], r["body"], r["label"], r["meta"]))
            db.execute("INSERT INTO bv_board_notes (id, board_id, title, body, label, meta) "
                       "VALUES (%s, 1, %s, %s, %s, %s)",
                       (i, r["title"], r["body"], r["label"], r["meta"]))
        db.execute("INSERT INTO bv_board_notes (id, board_id, title, body) VALUES "
                   "(21, 2, 'other', 'board two')")
        # (tbtest.Db raises bv_options by itself after each write)
        self.revision = int(db.scalar("SELECT value FROM bv_options"))
        # what the database holds is what every answer must carry
        sizes = db.query("SELECT id, OCTET_LENGTH(body), OCTET_LENGTH(label), "
                         "OCTET_LENGTH(meta) FROM bv_notes ORDER BY id")
        assert [tuple(s[1:]) for s in sizes[:2]] == [(BIG, BUF, BUF - 1), (BUF, BUF + 1, BIG)]
        return {i: r for i, r in enumerate(rows, 1)}


class TestLoads(BigValues):
    """Every kind of load."""

    def check_rows(self, what: str, section: dict, want: dict, ids):
        got = [r.get("id") for r in section["rows"]]
        assert got == list(ids), f"{what}: ids {got}, expected {list(ids)}"
        for rec in section["rows"]:
            check_note(f"{what} id {rec['id']}", rec, want[rec["id"]])

    def test_tb_830_01(self, httpd, db):
        # a full load that the cache keeps, and then serves: the text protocol, whole values
        want = self.seed(db, "c")
        body = ok(httpd.get(load_path("/bu/load", 1)))
        assert body["revision"] == self.revision
        self.check_rows("load", body["notes"], want, [1, 2, 3, 4])
        # a write that does not raise the revision: only a cached answer still has "four"
        with db.conn().cursor() as cur:
            cur.execute("UPDATE bv_notes SET title = 'FOUR' WHERE id = 4")
        body = ok(httpd.get(load_path("/bu/load", 2)))
        assert body["notes"]["rows"][3]["title"] == "four", "not the cached answer"
        self.check_rows("cached load", body["notes"], want, [1, 2, 3, 4])

    def test_tb_830_02(self, httpd, db):
        # a full load streamed (TaskBoardLoadCache Off)
        want = self.seed(db, "f")
        body = ok(httpd.get(load_path("/bs/load", 3)))
        self.check_rows("streamed load", body["notes"], want, [1, 2, 3, 4])

    def test_tb_830_03(self, httpd, db):
        # pages: prepared statements, one row per page and all rows in one page
        want = self.seed(db, "p")
        for page in (1, 2, 3, 4):
            body = ok(httpd.get(load_path("/bu/load", 10 + page, stores=[
                {"storeId": "notes", "page": page, "pageSize": 1}])))
            assert body["notes"]["total"] == 4
            self.check_rows(f"page {page}", body["notes"], want, [page])
        body = ok(httpd.get(load_path("/bs/load", 15, stores=[
            {"storeId": "notes", "page": 1, "pageSize": 10}])))
        self.check_rows("page of 10", body["notes"], want, [1, 2, 3, 4])

    def test_tb_830_04(self, httpd, db):
        # a scoped board (TaskBoardScope): its rows through a prepared statement, whole, cached
        # and served from the cache, and in pages
        want = self.seed(db, "v")
        for rid in (20, 21):
            body = ok(httpd.get(load_path("/bv/load", rid) + "&board=1"))
            self.check_rows(f"scoped load {rid}", body["notes"], want, [1, 2, 3, 4])
        body = ok(httpd.get(load_path("/bv/load", 22, stores=[
            {"storeId": "notes", "page": 2, "pageSize": 1}]) + "&board=1"))
        self.check_rows("scoped page 2", body["notes"], want, [2])
        body = ok(httpd.get(load_path("/bv/load", 23) + "&board=2"))
        assert [r["id"] for r in body["notes"]["rows"]] == [21]

    def test_tb_830_05(self, httpd, db):
        # "sinceRevision": the journal's delta reads the changed rows through prepared
        # statements (unscoped and scoped)
        want = self.seed(db, "d")
        for path, board in (("/bu", ""), ("/bv", "&board=1")):
            r0 = self.revision if path == "/bu" else int(
                db.scalar("SELECT revision FROM bv_boards WHERE id = 1"))
            new = {"body": text_of(BIG, "nb" + path), "label": text_of(BUF, "nl" + path)}
            body = ok(post_sync(httpd, path + "/sync" + board.replace("&", "?"), {
                "type": "sync", "requestId": 30, "revision": r0,
                "notes": {"updated": [{"id": 2, **new}, {"id": 1, "title": "one!"}]}}), "sync")
            assert body["revision"] == r0 + 1
            delta = ok(httpd.get(load_path(path + "/load", 31, sinceRevision=r0) + board),
                       "sync")
            recs = {x["id"]: x for x in delta["notes"]["rows"]}
            assert sorted(recs) == [1, 2], f"{path}: delta of ids {sorted(recs)}"
            check_note(f"{path} delta id 1", recs[1], dict(want[1], title="one!"))
            check_note(f"{path} delta id 2", recs[2], dict(want[2], **new))


class TestSyncs(BigValues):
    """Sync answers, deltas of stale syncs and replayed answers."""

    def test_tb_830_10(self, httpd, db):
        # an added record comes back with every field read from the database, and an updated
        # one with the fields it sent
        self.seed(db, "a")
        for path, board in (("/bu/sync", ""), ("/bv/sync", "?board=1")):
            added = {"title": "added", "body": text_of(BIG, "ab"), "label": text_of(BUF, "al"),
                     "meta": json_of(BUF, "am")}
            body = ok(post_sync(httpd, path + board, {
                "type": "sync", "requestId": 40, "notes": {
                    "added": [as_sent({"$PhantomId": "_n1", **added})],
                    "updated": [as_sent({"id": 3, "body": text_of(BUF, "ub"),
                                         "meta": json_of(BIG, "um")})]}}), "sync")
            rows = {r.get("$PhantomId", r["id"]): r for r in body["notes"]["rows"]}
            assert "_n1" in rows and set(rows) <= {3, "_n1"}, f"{path}: {sorted(rows, key=str)}"
            check_note(f"{path} added", rows["_n1"], added)
            # an updated record carries only what the server changed further, if anything
            if 3 in rows:
                check_note(f"{path} updated", rows[3],
                           {k: v for k, v in (("body", text_of(BUF, "ub")),
                                              ("meta", json_of(BIG, "um"))) if k in rows[3]})
            # and the database holds them whole
            table = "bv_notes" if path == "/bu/sync" else "bv_board_notes"
            got = db.query(f"SELECT body, label, meta FROM {table} WHERE id = %s",
                           (rows["_n1"]["id"],))[0]
            same_text("stored body", got[0], added["body"])
            same_text("stored label", got[1], added["label"])

    def test_tb_830_11(self, httpd, db):
        # a stale sync gets what others changed since its revision (the journal's delta), whole
        want = self.seed(db, "j")
        for path, board in (("/bu/sync", ""), ("/bv/sync", "?board=1")):
            r0 = int(db.scalar("SELECT value FROM bv_options") if path == "/bu/sync" else
                     db.scalar("SELECT revision FROM bv_boards WHERE id = 1"))
            other = {"body": text_of(BIG, "ob" + path), "label": text_of(BUF, "ol" + path),
                     "meta": json_of(BUF + 1, "om" + path)}
            ok(post_sync(httpd, path + board, {
                "type": "sync", "requestId": 50, "revision": r0,
                "notes": {"updated": [as_sent({"id": 1, **other})]}}), "sync")
            body = ok(post_sync(httpd, path + board, {
                "type": "sync", "requestId": 51, "revision": r0,
                "notes": {"updated": [{"id": 3, "title": "mine"}]}}), "sync")
            assert body["revision"] == r0 + 2
            recs = {x["id"]: x for x in body["notes"]["rows"]}
            assert 1 in recs, f"{path}: the stale sync's answer lacks record 1: {sorted(recs)}"
            check_note(f"{path} stale delta id 1", recs[1], dict(want[1], **other))

    def test_tb_830_12(self, httpd, db):
        # an identical resend gets the first answer again, from the retry table: byte for
        # byte, also when that answer is larger than the driver's buffer
        self.seed(db, "r")
        for path, board in (("/bu/sync", ""), ("/bv/sync", "?board=1")):
            pkg = {"type": "sync", "requestId": 52, "notes": {"added": [
                {"$PhantomId": "_r1", "title": "resent", "body": text_of(BIG, "rb")}]}}
            first = post_sync(httpd, path + board, pkg)
            assert len(ok(first, "sync")["notes"]["rows"]) == 1
            assert len(first.content) > BUF
            httpd.expect_log("TB00115")     # (info) the recorded answer is replayed
            again = post_sync(httpd, path + board, pkg)
            assert again.status_code == 200, describe(again, 300)
            assert again.content == first.content, (
                f"{path}: replayed answer of {len(again.content)} bytes, the first had "
                f"{len(first.content)}")
            table = "bv_notes" if path == "/bu/sync" else "bv_board_notes"
            assert db.scalar(f"SELECT COUNT(*) FROM {table} WHERE title = 'resent'") == 1


class TestLimits(BigValues):
    """What a sync can store must be readable: a value larger than the database takes in one
    statement (max_allowed_packet) is refused with 413, not retried forever as a 503."""

    CONF_BIG_BODY = CONF.replace("TaskBoardMaxBodySize 16777216", "TaskBoardMaxBodySize 67108864")

    def test_tb_830_20(self, httpd, db):
        self.seed(db, "m")
        packet = int(db.scalar("SELECT @@global.max_allowed_packet"))
        if packet >= 60 * 1024 * 1024:
            pytest.skip(f"max_allowed_packet is {packet}: no body can exceed it")
        httpd.reload(self.CONF_BIG_BODY)
        try:
            before = db.query("SELECT id, OCTET_LENGTH(body) FROM bv_notes ORDER BY id")
            httpd.expect_log("TB00240")
            r = post_sync(httpd, "/bu/sync", {
                "type": "sync", "requestId": 60, "notes": {
                    "updated": [{"id": 3, "body": "z" * (packet + 1024)}]}})
            check_error(r, 413, request_id=60, kind="sync")
            assert db.query("SELECT id, OCTET_LENGTH(body) FROM bv_notes ORDER BY id") == before
        finally:
            httpd.reload(CONF)
