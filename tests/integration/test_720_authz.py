"""Authorization (TaskBoardAuthzQuery, TaskBoardReadOnly) on the boards of
conf/taskboard-boards.conf, used whole: httpd authenticates (mod_auth_basic with a password file),
the module asks board_access whether the user may read or write the board.  401 and 403 come back
as the module's JSON errors, whether httpd or the module refuses, and a refused request writes
nothing."""

import base64
import json
import os
import urllib.parse

import pytest
import requests

import sse
import tbtest
from tbtest import describe
from test_710_boards import BOARD_TABLES, BOARDS_SQL, boards_conf, seed

USERS = {"alice": "wonderland", "bob": "builder", "carol": "singer"}
ACCESS = [(1, "alice", "write"), (2, "alice", "read"), (1, "bob", "read")]   # carol: none

# A read-only location on the sample board, and one whose query asks for the user only.
EXTRA = """
<Location /ro>
    TaskBoardRevision options value name=revision
    TaskBoardReadOnly On
    <TaskBoardStore tasks>
        TaskBoardField name string required
    </TaskBoardStore>
</Location>
<Location /ro/sync>
    SetHandler taskboard-sync
</Location>
<Location /team>
    AuthType Basic
    AuthName "team"
    AuthUserFile "{htpasswd}"
    Require valid-user
    TaskBoardAuthzQuery "SELECT access FROM board_access WHERE user = %s AND board_id = 1"
    TaskBoardRevision options value name=revision
    <TaskBoardStore tasks>
        TaskBoardField name string required
    </TaskBoardStore>
</Location>
<Location /team/sync>
    SetHandler taskboard-sync
</Location>
<Location /team/load>
    SetHandler taskboard-load
</Location>
<Location /multi>
    AuthType Basic
    AuthName "team"
    AuthUserFile "{htpasswd}"
    Require valid-user
    # every row of the user, the narrowest first: the widest must count, not the first
    TaskBoardAuthzQuery "SELECT access FROM board_access WHERE user = %s ORDER BY access = 'write'"
    TaskBoardRevision options value name=revision
    <TaskBoardStore tasks>
        TaskBoardField name string required
    </TaskBoardStore>
</Location>
<Location /multi/sync>
    SetHandler taskboard-sync
</Location>
<Location /tb-status>
    SetHandler taskboard-status
</Location>
"""


def conf(htpasswd: str) -> str:
    mods = tbtest.auth_mods()
    text = boards_conf(with_access=True).replace("/etc/apache2/taskboard.htpasswd", htpasswd)
    return mods + text + EXTRA.replace("{htpasswd}", htpasswd)


def check_json_error(r, status, kind):
    assert r.status_code == status, describe(r)
    assert r.headers["Content-Type"].split(";")[0] == "application/json", describe(r)
    body = r.json()
    assert body["success"] is False and body["code"] == status, body
    assert body["type"] == kind and body["message"], body
    return body


class TestAuthz:

    SAMPLE_DATA = ("teardown",)

    @classmethod
    def prepare_class(cls, env, httpd):
        cls.CONF = conf(tbtest.write_htpasswd(httpd, USERS))
        env.db_load(BOARDS_SQL)

    @pytest.fixture(autouse=True)
    def _seed(self, db):
        seed(db, ACCESS)

    def load(self, httpd, board, user, password=None):
        q = urllib.parse.urlencode({"data": json.dumps({"type": "load", "requestId": 1})})
        return requests.get(httpd.url(f"/boards/{board}/load?{q}"), timeout=10,
                            auth=(user, password or USERS[user]) if user else None)

    def sync(self, httpd, board, user, package, path=None):
        return requests.post(httpd.url(path or f"/boards/{board}/sync"), timeout=10,
                             json={"type": "sync", **package},
                             auth=(user, USERS[user]) if user else None)

    def test_tb_720_01(self, httpd):
        # no or wrong credentials: httpd's 401 with its Basic challenge, in the module's JSON
        httpd.expect_log(r"AH01617: user alice: authentication failure")
        for r, kind in ((self.load(httpd, 1, None), "load"),
                        (self.load(httpd, 1, "alice", "wrong"), "load"),
                        (self.sync(httpd, 1, None, {"requestId": 1}), "sync")):
            check_json_error(r, 401, kind)
            assert r.headers["WWW-Authenticate"].startswith('Basic realm="Task boards"'), \
                r.headers

    def test_tb_720_02(self, httpd, db):
        # carol has no row for board 1: 403 on load, sync and events, and nothing is written
        with tbtest.Unchanged(db, BOARD_TABLES):
            check_json_error(self.load(httpd, 1, "carol"), 403, "load")
            check_json_error(self.sync(httpd, 1, "carol", {"requestId": 2, "tasks": {
                "updated": [{"id": 101, "name": "carol was here"}]}}), 403, "sync")
            r = requests.get(httpd.url("/boards/1/events"), auth=("carol", USERS["carol"]),
                             timeout=10)
            check_json_error(r, 403, "events")
        # alice may write board 1 but only read board 2; no one's access reaches board 3
        check_json_error(self.load(httpd, 3, "alice"), 403, "load")

    def test_tb_720_03(self, httpd, db):
        # bob may read board 1: he loads it, polls it and follows its events, but a sync that
        # changes something is refused (403) and writes nothing
        r = self.load(httpd, 1, "bob")
        assert r.status_code == 200 and {t["id"] for t in r.json()["tasks"]["rows"]} \
            == {101, 102}, describe(r)
        r = self.sync(httpd, 1, "bob", {"requestId": 3, "revision": 10})
        assert r.status_code == 200 and r.json()["revision"] == 10, describe(r)
        with tbtest.Unchanged(db, BOARD_TABLES):
            body = check_json_error(self.sync(httpd, 1, "bob", {"requestId": 4, "tasks": {
                "removed": [{"id": 102}]}}), 403, "sync")
            assert body["requestId"] == 4 and "not change" in body["message"], body
        auth = "Basic " + base64.b64encode(b"bob:builder").decode()
        with sse.SseStream(httpd, "/boards/1/events", headers={"Authorization": auth}) as s:
            assert s.status == 200, s.headers
            assert self.sync(httpd, 1, "alice", {"requestId": 5, "tasks": {"updated": [
                {"id": 101, "name": "seen by bob"}]}}).status_code == 200
            ev = s.next_event(timeout=10)
            while ev is not None and ev.event == "ready" or (ev is not None and not ev.is_event):
                ev = s.next_event(timeout=10)
            assert ev is not None and json.loads(ev.data)["revision"] == 11, ev

    def test_tb_720_04(self, httpd, db):
        # alice writes board 1 (her name in the stamp) and is refused writing board 2
        r = self.sync(httpd, 1, "alice", {"requestId": 6, "tasks": {"updated": [
            {"id": 101, "name": "by alice"}]}})
        assert r.status_code == 200, describe(r)
        assert r.json()["tasks"]["rows"][0]["updatedBy"] == "alice", r.json()
        with tbtest.Unchanged(db, BOARD_TABLES):
            check_json_error(self.sync(httpd, 2, "alice", {"requestId": 7, "tasks": {
                "updated": [{"id": 201, "name": "by alice"}]}}), 403, "sync")
        # her access to board 2 is read: loading it works
        assert self.load(httpd, 2, "alice").status_code == 200

    def test_tb_720_05(self, httpd, db):
        # access changes take effect on the next request (nothing is cached)
        db.execute("UPDATE board_access SET access = 'write' WHERE user = 'bob'")
        r = self.sync(httpd, 1, "bob", {"requestId": 8, "tasks": {"updated": [
            {"id": 102, "name": "by bob"}]}})
        assert r.status_code == 200, describe(r)
        db.execute("DELETE FROM board_access WHERE user = 'bob'")
        check_json_error(self.load(httpd, 1, "bob"), 403, "load")

    def test_tb_720_06(self, httpd, db, env):
        # TaskBoardReadOnly: polls answer, changes get 403, nothing is written
        env.db_load()
        with tbtest.Unchanged(db):
            r = requests.post(httpd.url("/ro/sync"), json={"type": "sync", "requestId": 9},
                              timeout=10)
            assert r.status_code == 200, describe(r)
            body = check_json_error(requests.post(httpd.url("/ro/sync"), timeout=10, json={
                "type": "sync", "requestId": 10,
                "tasks": {"added": [{"$PhantomId": "_r", "name": "no"}]}}), 403, "sync")
            assert "read-only" in body["message"], body

    def test_tb_720_07(self, httpd, db, env):
        # a query with the user alone decides for a location without boards
        env.db_load()
        r = self.sync(httpd, None, "alice", {"requestId": 11, "tasks": {"added": [
            {"$PhantomId": "_t", "name": "team"}]}}, path="/team/sync")
        assert r.status_code == 200, describe(r)
        with tbtest.Unchanged(db):
            check_json_error(self.sync(httpd, None, "bob", {"requestId": 12, "tasks": {"added": [
                {"$PhantomId": "_u", "name": "bob"}]}}, path="/team/sync"), 403, "sync")
            check_json_error(requests.get(httpd.url("/team/load"), timeout=10,
                                          auth=("carol", USERS["carol"])), 403, "load")

    def test_tb_720_09(self, httpd, db, env):
        # a query that gives several rows (a user's groups): the widest access counts, in
        # whatever order they come.  alice's rows are 'read' (board 2) then 'write' (board 1);
        # bob's only row is 'read'.
        env.db_load()
        r = self.sync(httpd, None, "alice", {"requestId": 30, "tasks": {"added": [
            {"$PhantomId": "_m", "name": "multi"}]}}, path="/multi/sync")
        assert r.status_code == 200, describe(r)
        with tbtest.Unchanged(db):
            check_json_error(self.sync(httpd, None, "bob", {"requestId": 31, "tasks": {"added": [
                {"$PhantomId": "_n", "name": "bob"}]}}, path="/multi/sync"), 403, "sync")

    def status(self, httpd) -> dict:
        r = requests.get(httpd.url("/tb-status?json"), headers={"Connection": "close"},
                         timeout=10)
        assert r.status_code == 200, describe(r)
        return {loc["path"]: loc for loc in tbtest.jloads(r.text)["locations"]}

    def test_tb_720_08(self, httpd, env, db):
        # the status page counts every request the module answered in its location, refusals
        # as errors; httpd's own 401s never reach the module.  Counted as differences, so that
        # the test does not depend on the ones before it.  A request counts in the section
        # whose SetHandler routed it: a board's load and sync in the handlers' <LocationMatch>
        # of conf/taskboard-boards.conf, not in the <LocationMatch "^/boards/"> merged after
        # them.
        before = self.status(httpd)
        check_json_error(self.load(httpd, 1, None), 401, "load")                # not counted
        check_json_error(self.load(httpd, 1, "carol"), 403, "load")
        assert self.load(httpd, 1, "bob").status_code == 200
        assert self.sync(httpd, 1, "bob", {"requestId": 20, "revision": 10}).status_code == 200
        check_json_error(self.sync(httpd, 1, "bob", {"requestId": 21, "tasks": {
            "removed": [{"id": 102}]}}), 403, "sync")
        assert self.sync(httpd, 1, "alice", {"requestId": 22, "tasks": {"updated": [
            {"id": 101, "name": "counted"}]}}).status_code == 200
        check_json_error(requests.post(httpd.url("/ro/sync"), timeout=10, json={
            "type": "sync", "requestId": 23,
            "tasks": {"added": [{"$PhantomId": "_r", "name": "no"}]}}), 403, "sync")
        check_json_error(requests.get(httpd.url("/team/load"), timeout=10,
                                      auth=("carol", USERS["carol"])), 403, "load")
        after = self.status(httpd)
        with open(os.path.join(env.state_dir, "status-after-720.json"), "w") as f:
            json.dump(after, f)

        def delta(path, key):
            return after[path][key] - before.get(path, {}).get(key, 0)

        load_row, sync_row = "^/boards/[0-9]+/load$", "^/boards/[0-9]+/sync$"
        assert "^/boards/" not in after, after
        got = {"loads": delta(load_row, "loads"), "syncs": delta(sync_row, "syncs"),
               "errors": delta(load_row, "errors") + delta(sync_row, "errors"),
               "rowsWritten": delta(sync_row, "rowsWritten")}
        assert got == {"loads": 2, "syncs": 3, "errors": 2, "rowsWritten": 1}, (got, after)
        assert delta(load_row, "syncs") == delta(sync_row, "loads") == 0, after
        assert delta("/ro/sync", "errors") == 1, after
        assert delta("/team/load", "errors") == 1, after
