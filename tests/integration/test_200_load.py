"""The load request: every way a client sends it, and every value type coming back exactly as the
database holds it.  Expected rows are always read from the database (tbtest.Db.expected_rows)."""

import json
import re
import urllib.parse

import boards
import tbtest
from protocol import REAL_LOAD
from tbtest import MISSING, check_load, describe, json_body, jloads

ALL_FIVE = ["tasks", "resources", "assignments", "columns", "swimlanes"]


def pkg(stores=MISSING, request_id=MISSING, **extra) -> str:
    p = {"type": "load"}
    if request_id is not MISSING:
        p["requestId"] = request_id
    if stores is not MISSING:
        p["stores"] = stores
    p.update(extra)
    return json.dumps(p)


def q_data(package: str) -> str:
    return "data=" + urllib.parse.quote(package, safe="")


class TestLoadSample:
    """The shipped conf/taskboard.conf, as a client uses it, on the sample board with the edge
    cases of each field type."""

    CONF = tbtest.sample_test_conf()
    SAMPLE_DATA = ("setup", "teardown")
    SAMPLE_EDGES = True

    def test_tb_200_01(self, httpd, db):
        # the sample board has the five stores of the sample schema, on /api/load
        assert sorted(self.board.stores) == sorted(ALL_FIVE)
        assert db.count("tasks") == 5 and db.count("resources") == 7
        assert db.count("assignments") == 10
        assert db.count("columns") == 4 and db.count("swimlanes") == 3
        a = self.board.stores["assignments"]
        assert a.field("eventId").column == "event"
        assert a.field("resourceId").column == "resource"

    def test_tb_200_02(self, httpd, db):
        # GET without data: every store
        check_load(httpd.get("/api/load"), self.board, db)

    def test_tb_200_03(self, httpd, db):
        # the observed real-client GET: only the served stores come back, requestId echoed
        r = httpd.get("/api/load?" + q_data(REAL_LOAD))
        check_load(r, self.board, db, stores=["tasks", "resources", "assignments"],
                   request_id=17957455532200)
        assert re.search(r'"requestId"\s*:\s*17957455532200\b', r.text), r.text[:300]

    def test_tb_200_04(self, httpd, db):
        # a 16-digit requestId is echoed digit for digit (not through a double and back)
        rid = 1795745553220012
        r = httpd.get("/api/load?" + q_data(pkg(["tasks"], rid)))
        check_load(r, self.board, db, stores=["tasks"], request_id=rid)
        assert re.search(r'"requestId"\s*:\s*1795745553220012[,}\s]', r.text), r.text[:300]

    def test_tb_200_05(self, httpd, db):
        # requestId up to 2^53 exactly, and a string requestId stays a string
        for rid in (2 ** 53, 9007199254740991, "abc-17", "17957455532200"):
            r = httpd.get("/api/load?" + q_data(pkg(["columns"], rid)))
            check_load(r, self.board, db, stores=["columns"], request_id=rid)
        assert re.search(r'"requestId"\s*:\s*"17957455532200"', r.text), r.text[:300]

    def test_tb_200_06(self, httpd, db):
        # POST with a JSON body, as application/json and as text/plain
        for ctype in ("application/json", "application/json; charset=utf-8", "text/plain",
                      "text/plain;charset=UTF-8"):
            r = httpd.post("/api/load", data=REAL_LOAD.encode(),
                           headers={"Content-Type": ctype})
            check_load(r, self.board, db, stores=["tasks", "resources", "assignments"],
                       request_id=17957455532200)

    def test_tb_200_07(self, httpd, db):
        # POST as a form with data=
        r = httpd.post("/api/load", data={"data": pkg(["swimlanes", "columns"], 7)})
        assert r.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        check_load(r, self.board, db, stores=["swimlanes", "columns"], request_id=7)

    def test_tb_200_08(self, httpd, db):
        # store entries as objects, with storeId and with the older id
        r = httpd.get("/api/load?" + q_data(pkg([{"storeId": "tasks"}, {"id": "resources"},
                                                 "assignments"], 8)))
        check_load(r, self.board, db, stores=["tasks", "resources", "assignments"], request_id=8)

    def test_tb_200_09(self, httpd, db):
        # no stores: every store; empty stores list: no store sections
        r = httpd.get("/api/load?" + q_data(pkg(request_id=9)))
        check_load(r, self.board, db, request_id=9)
        r = httpd.post("/api/load", json={"type": "load", "requestId": 10, "stores": []})
        check_load(r, self.board, db, stores=[], request_id=10)

    def test_tb_200_10(self, httpd, db):
        # paging: page 2 of 2 is rows 3-4 of the order; total counts all rows
        r = httpd.get("/api/load?" + q_data(pkg([{"storeId": "tasks", "page": 2, "pageSize": 2}],
                                                11)))
        body = check_load(r, self.board, db, stores=["tasks"], request_id=11,
                          pages={"tasks": (2, 2)})
        assert len(body["tasks"]["rows"]) == 2
        all_rows = db.expected_rows(self.board.stores["tasks"])
        assert [x["id"] for x in body["tasks"]["rows"]] == [x["id"] for x in all_rows[2:4]]
        # the last, partial page and a page past the end
        r = httpd.get("/api/load?" + q_data(pkg([{"storeId": "resources", "page": 4,
                                                  "pageSize": 2}])))
        body = check_load(r, self.board, db, stores=["resources"], pages={"resources": (4, 2)})
        assert len(body["resources"]["rows"]) == 1
        r = httpd.get("/api/load?" + q_data(pkg([{"storeId": "resources", "page": 9,
                                                  "pageSize": 2}])))
        body = check_load(r, self.board, db, stores=["resources"], pages={"resources": (9, 2)})
        assert body["resources"]["rows"] == []

    def test_tb_200_11(self, httpd, db):
        # a store asked for twice comes back once (jloads refuses duplicate keys)
        r = httpd.get("/api/load?" + q_data(pkg(["tasks", "tasks", {"storeId": "tasks"}], 12)))
        check_load(r, self.board, db, stores=["tasks"], request_id=12)
        assert len(re.findall(r'"tasks"\s*:', r.text)) == 1

    def test_tb_200_12(self, httpd, db):
        # HEAD is GET without a body
        g = httpd.get("/api/load")
        h = httpd.request("HEAD", "/api/load")
        assert h.status_code == 200, describe(h)
        assert h.headers.get("Content-Type", "").startswith("application/json")
        assert h.content == b""

    def test_tb_200_13(self, httpd, db):
        # other query parameters and unknown package keys are ignored
        p = pkg(["tasks"], 13, params={"startIndex": 0, "count": 100}, appSpecific={"x": [1]})
        r = httpd.get(f"/api/load?_dc=1700000000000&foo=bar&{q_data(p)}&zzz=")
        check_load(r, self.board, db, stores=["tasks"], request_id=13)

    def test_tb_200_14(self, httpd, db):
        # the revision is read from the database on each load
        with db.snapshot("options"):
            db.execute("UPDATE options SET value = 4242 WHERE name = 'revision'")
            body = check_load(httpd.get("/api/load?" + q_data(pkg(["columns"]))), self.board, db,
                              stores=["columns"])
            assert body["revision"] == 4242
        body = check_load(httpd.get("/api/load?" + q_data(pkg(["columns"]))), self.board, db,
                          stores=["columns"])
        assert body["revision"] == db.revision(self.board)

    def test_tb_200_15(self, httpd, db):
        # changes made in the database show in the next load: tbtest.Db raises the revision, as
        # docs/protocol.md asks of every writer outside the module (test_520 covers the cache itself)
        with db.snapshot("tasks"):
            db.execute("UPDATE tasks SET name = 'changed behind its back', weight = 1 "
                       "WHERE id = 5")
            body = check_load(httpd.get("/api/load"), self.board, db)
            assert body["tasks"]["rows"][0]["id"] == 5
        check_load(httpd.get("/api/load"), self.board, db)

    def test_tb_200_16(self, httpd, db):
        # the sample's values come back with their JSON types (spot checks on top of check_load)
        body = check_load(httpd.get("/api/load"), self.board, db)
        t = {x["id"]: x for x in body["tasks"]["rows"]}
        assert t[2].get("prio", MISSING) is None         # NULL prio
        a = body["assignments"]["rows"][0]
        assert type(a["eventId"]) is int and type(a["resourceId"]) is int
        assert all(type(x["id"]) is str for x in body["columns"]["rows"])

    def test_tb_200_17(self, httpd, db):
        # form-style query encoding: '+' is a space, %2B a plus
        package = json.dumps({"type": "load", "requestId": "a b+c", "stores": ["columns"]})
        r = httpd.get("/api/load?data=" + urllib.parse.quote_plus(package))
        assert "+" in r.request.url
        check_load(r, self.board, db, stores=["columns"], request_id="a b+c")


class TestLoadTypes:
    """A board that maps every column of the schema, to check each type's wire format (on the
    sample board with the edge cases of each field type)."""

    CONF = boards.board_conf()
    SAMPLE_DATA = ("setup", "teardown")
    SAMPLE_EDGES = True

    def test_tb_200_20(self, httpd, db):
        # every store, every column, typed
        body = check_load(httpd.get("/api/load"), self.board, db)
        rows = {x["id"]: x for x in body["tasks"]["rows"]}
        assert rows[4]["readOnly"] is True and rows[1]["readOnly"] is False
        assert rows[3]["startDate"] == "2024-03-01T09:30:00Z"
        assert rows[3]["meta"] == {"estimate": 3, "tags": ["css", "layout"]}
        assert rows[1]["deadline"] == "2024-05-30"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rows[1]["createdAt"])
        units = {x["id"]: x["units"] for x in body["assignments"]["rows"]}
        assert units[8] == 50 and type(units[8]) in (int, float)

    def test_tb_200_21(self, httpd, db):
        # resources ordered by name DESC, ties by id
        with db.snapshot("resources"):
            db.execute("UPDATE resources SET name = 'Same' WHERE id IN (2, 5, 7)")
            body = check_load(httpd.get("/api/load?" + q_data(pkg(["resources"]))), self.board,
                              db, stores=["resources"])
            same = [x["id"] for x in body["resources"]["rows"] if x["name"] == "Same"]
            assert same == [2, 5, 7]

    def test_tb_200_22(self, httpd, db):
        # SQL NULL in every nullable column is JSON null
        with db.snapshot("tasks", "resources", "assignments", "columns"):
            db.execute("UPDATE tasks SET description = NULL, prio = NULL, weight = NULL, "
                       "deadline = NULL, start_date = NULL, event_color = NULL, "
                       "parent_id = NULL, meta = NULL WHERE id = 3")
            db.execute("UPDATE tasks SET parent_id = 3 WHERE id = 4")
            db.execute("UPDATE resources SET email = NULL, image = NULL, role = NULL "
                       "WHERE id = 6")
            db.execute("UPDATE assignments SET units = NULL WHERE id = 2")
            db.execute("UPDATE columns SET color = NULL WHERE id = 'done'")
            body = check_load(httpd.get("/api/load"), self.board, db)
            t3 = next(x for x in body["tasks"]["rows"] if x["id"] == 3)
            for k in ("description", "prio", "weight", "deadline", "startDate", "eventColor",
                      "parentId", "meta"):
                assert k in t3 and t3[k] is None, f"{k}: {t3.get(k, MISSING)!r}"
            t4 = next(x for x in body["tasks"]["rows"] if x["id"] == 4)
            assert t4["parentId"] == 3
            a2 = next(x for x in body["assignments"]["rows"] if x["id"] == 2)
            assert a2["units"] is None

    def test_tb_200_23(self, httpd, db):
        # non-ASCII, quotes, backslashes and control characters round-trip exactly
        texts = {
            1: "Größe 日本 😀",
            2: 'quote " backslash \\ slash / tab \t newline \n cr \r',
            3: "controls \x01\x02\x08\x0c\x1b\x1f\x7f end",
            4: "\u2028\u2029 line separators, \ufeff BOM, \u00a0 nbsp",
            5: "</script><!-- ' \"\" '' %s %d %% ? ?? -->",
        }
        with db.snapshot("tasks", "columns"):
            for tid, text in texts.items():
                db.execute("UPDATE tasks SET name = %s, description = %s WHERE id = %s",
                           (text, text * 3, tid))
            db.execute("UPDATE columns SET text = %s WHERE id = 'todo'", ("Größe 日本 😀",))
            r = httpd.get("/api/load")
            body = check_load(r, self.board, db)
            got = {x["id"]: x["name"] for x in body["tasks"]["rows"]}
            for tid, text in texts.items():
                assert got[tid] == text, f"task {tid}: {got[tid]!r} != {text!r}"
            # json_body() already refused invalid UTF-8 and raw control characters in strings
            # (Python's json is strict about those)

    def test_tb_200_24(self, httpd, db):
        # dates and datetimes with known values; DATETIME is sent as UTC with Z
        cases = [(1, "2024-02-29", "2024-03-05 10:30:00", "2024-03-05T10:30:00Z"),
                 (2, "1999-12-31", "1999-12-31 23:59:59", "1999-12-31T23:59:59Z"),
                 (3, "2038-01-19", "2038-01-19 03:14:08", "2038-01-19T03:14:08Z"),
                 (4, "1000-01-01", "1970-01-01 00:00:00", "1970-01-01T00:00:00Z")]
        with db.snapshot("tasks"):
            for tid, d, dt, _ in cases:
                db.execute("UPDATE tasks SET deadline = %s, start_date = %s WHERE id = %s",
                           (d, dt, tid))
            body = check_load(httpd.get("/api/load?" + q_data(pkg(["tasks"]))), self.board, db,
                              stores=["tasks"])
            rows = {x["id"]: x for x in body["tasks"]["rows"]}
            for tid, d, _, iso in cases:
                assert rows[tid]["deadline"] == d
                assert rows[tid]["startDate"] == iso

    def test_tb_200_25(self, httpd, db):
        # JSON columns are embedded as JSON values, whatever their kind
        metas = {1: '{"a": [1, 2.5, {"b": null}], "s": "x\\"y", "t": true, "u": "\\u00e9"}',
                 2: '[1, "two", false, null]',
                 3: '"just a string"',
                 4: '12345678901234',
                 5: '{}'}
        with db.snapshot("tasks"):
            for tid, m in metas.items():
                db.execute("UPDATE tasks SET meta = %s WHERE id = %s", (m, tid))
            body = check_load(httpd.get("/api/load?" + q_data(pkg(["tasks"]))), self.board, db,
                              stores=["tasks"])
            rows = {x["id"]: x for x in body["tasks"]["rows"]}
            for tid, m in metas.items():
                assert tbtest.strict_equal(rows[tid]["meta"], jloads(m)), rows[tid]["meta"]

    def test_tb_200_26(self, httpd, db):
        # DECIMAL units are JSON numbers with their value; booleans are true/false
        values = {1: "0.25", 2: "999.99", 3: "-12.50", 4: "0.00", 5: "100.00"}
        with db.snapshot("assignments", "columns"):
            for aid, v in values.items():
                db.execute("UPDATE assignments SET units = %s WHERE id = %s", (v, aid))
            db.execute("UPDATE columns SET collapsed = 1 WHERE id = 'doing'")
            r = httpd.get("/api/load?" + q_data(pkg(["assignments", "columns"])))
            body = check_load(r, self.board, db, stores=["assignments", "columns"])
            units = {x["id"]: x["units"] for x in body["assignments"]["rows"]}
            for aid, v in values.items():
                assert type(units[aid]) in (int, float) and abs(units[aid] - float(v)) < 1e-9
            cols = {x["id"]: x["collapsed"] for x in body["columns"]["rows"]}
            assert cols == {"todo": False, "doing": True, "review": False, "done": False}
            assert not re.search(r'"units"\s*:\s*"', r.text), "units sent as a string"

    def test_tb_200_27(self, httpd, db):
        # integer extremes of INT columns
        with db.snapshot("tasks"):
            db.execute("UPDATE tasks SET weight = 2147483647 WHERE id = 1")
            db.execute("UPDATE tasks SET weight = -2147483648 WHERE id = 2")
            body = check_load(httpd.get("/api/load?" + q_data(pkg(["tasks"]))), self.board, db,
                              stores=["tasks"])
            assert [x["id"] for x in body["tasks"]["rows"]][:1] == [2]
            assert body["tasks"]["rows"][-1]["weight"] == 2147483647

    def test_tb_200_28(self, httpd, db):
        # an empty table is an empty section with total 0
        with db.snapshot("swimlanes"):
            db.execute("DELETE FROM swimlanes")
            body = check_load(httpd.get("/api/load?" + q_data(pkg(["swimlanes"]))), self.board,
                              db, stores=["swimlanes"])
            assert body["swimlanes"] == {"rows": [], "total": 0} or (
                body["swimlanes"]["rows"] == [] and body["swimlanes"]["total"] == 0)


class TestLoadOptions:
    """TaskBoardParam, a board without TaskBoardRevision, stores declared for the whole server,
    and handler locations nested deeper than the stores' location."""

    CONF = """\
<TaskBoardStore columns>
    TaskBoardId id string
    TaskBoardOrder weight
    TaskBoardField text string
    TaskBoardField weight int
</TaskBoardStore>
<Location /srv/load>
    SetHandler taskboard-load
</Location>

<Location /opt>
    TaskBoardParam pkg
    <TaskBoardStore tasks>
        TaskBoardOrder name DESC
        TaskBoardField name string
        TaskBoardField weight int
        TaskBoardField startDate datetime column=start_date
    </TaskBoardStore>
</Location>
<Location /opt/deeper/load>
    SetHandler taskboard-load
</Location>
"""

    def test_tb_200_30(self, httpd, db):
        # stores declared for the server serve a location without stores of its own
        body = check_load(httpd.get("/srv/load"), self.board, db, stores=["columns"])
        assert "revision" not in body

    def test_tb_200_31(self, httpd, db):
        # TaskBoardParam renames the parameter, for GET and for a form POST
        r = httpd.get("/opt/deeper/load?pkg=" + urllib.parse.quote(pkg(["tasks"], 31)))
        body = check_load(r, self.board, db, stores=["tasks"], request_id=31)
        assert "revision" not in body
        r = httpd.post("/opt/deeper/load", data={"pkg": pkg(["tasks"], 32)})
        check_load(r, self.board, db, stores=["tasks"], request_id=32)

    def test_tb_200_32(self, httpd, db):
        # with the parameter renamed, data= is just another query parameter: a load of all
        r = httpd.get("/opt/deeper/load?data=" + urllib.parse.quote(pkg(["nosuch"], 33)))
        assert r.status_code == 200, describe(r)
        body = json_body(r)
        assert "requestId" not in body, r.text[:300]
        assert "tasks" in body


class TestGuideBoard:
    """sql/sample.sql as shipped: the board of the implementation guide, without the tests' edge
    cases.  The guide's TaskBoard has the columns todo, doing, review, done on `status` and the
    swimlanes high, medium, low on `prio`; a card whose values name neither is not shown."""

    CONF = tbtest.sample_test_conf()
    SAMPLE_DATA = ("setup",)

    def test_tb_200_40(self, httpd, db):
        # every card is in one of the guide's columns and swimlanes, with the guide's prio (a
        # NULL prio hid one card of five)
        body = check_load(httpd.get("/api/load"), self.board, db)
        columns = [c["id"] for c in body["columns"]["rows"]]
        lanes = [s["id"] for s in body["swimlanes"]["rows"]]
        assert columns == ["todo", "doing", "review", "done"], columns
        assert lanes == ["high", "medium", "low"], lanes
        tasks = {t["id"]: t for t in body["tasks"]["rows"]}
        assert {i: t["prio"] for i, t in tasks.items()} == {
            1: "medium", 2: "low", 3: "medium", 4: "high", 5: "low"}, tasks
        assert all(t["status"] in columns for t in tasks.values()), tasks
