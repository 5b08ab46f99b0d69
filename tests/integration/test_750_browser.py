"""The demo board page (conf/demo) in a real browser: Debian's chromium, driven by playwright-core
through tests/browser/driver.mjs, against the built module and the private MariaDB.

The driver answers each command with the board as the user sees it (cards, their cells and
assignees, the save indicator, the page's counters); every step is checked against the database,
the page's view computed from the same tables the module reads.

- TestBoardPage: the sample configuration (conf/taskboard.conf) with the page at /board/: load,
  move a card (drag and drop), add one with an assignee, rename it, delete another, reload and see
  it all kept; a screenshot; two pages on one board, where each change of one appears in the
  other through the events handler without a reload; a sync refused with 409 shows the message
  and loads the board again.
- TestCrossOrigin: the API behind Basic auth (preflights exempted with <LimitExcept OPTIONS>)
  and TaskBoardAllowOrigin; the page served from a second origin works with credentials, live
  events included; from a third origin, or without credentials, the browser refuses.

Needs node, tests/browser/node_modules (make -f Makefile.apxs deps) and /usr/bin/chromium;
without them the tests are skipped, unless TB_BROWSER_REQUIRED=1 (the test command sets it).
"""

import json
import os
import re
import shutil
import struct
import time

import pytest
import requests

import tbtest
from browser_driver import BROWSER_DIR, Browser, missing_tools
from tbtest import MODULES_DIR

DRIVER = os.path.join(BROWSER_DIR, "driver.mjs")
PAGE_DIR = os.path.join(tbtest.REPO, "conf", "demo")
USER, PASSWORD = "nora", "board-secret"

MISSING = missing_tools()
if MISSING and os.environ.get("TB_BROWSER_REQUIRED") == "1":
    raise RuntimeError("browser tests required, but missing: " + ", ".join(MISSING))
pytestmark = pytest.mark.skipif(bool(MISSING), reason="no browser: missing " + ", ".join(MISSING))


@pytest.fixture(scope="module")
def browser(env):
    b = Browser(os.path.join(env.state_dir, "browser-driver.log"), DRIVER)
    yield b
    b.close()


def page_conf(extra: str = "") -> str:
    """The shipped sample board with the demo page: the configuration the demo serves."""
    return (f'LoadModule dir_module "{MODULES_DIR}/mod_dir.so"\n'
            "DirectoryIndex index.html\n" + tbtest.sample_test_conf() + extra)


def install_page(httpd):
    """conf/demo into the server's htdocs/board, as tbctl.sh render-demo does for the demo."""
    target = os.path.join(httpd.root, "htdocs", "board")
    os.makedirs(target, exist_ok=True)
    os.chmod(target, 0o755)
    for name in os.listdir(PAGE_DIR):
        shutil.copy(os.path.join(PAGE_DIR, name), target)
        os.chmod(os.path.join(target, name), 0o644)


# ------------------------------------------------------------------------------------------------
# the board as the database says the page must show it

def db_view(db, board) -> dict:
    """{card id: {name, column, lane, assignees}}: what the page must show for every task.  A card
    whose prio names no swimlane is in the page's "no swimlane" row (lane None)."""
    lanes = {r["id"] for r in db.expected_rows(board.stores["swimlanes"])}
    assignments = db.expected_rows(board.stores["assignments"])
    view = {}
    for t in db.expected_rows(board.stores["tasks"]):
        view[str(t["id"])] = {
            "name": t["name"], "column": t["status"],
            "lane": t["prio"] if t["prio"] in lanes else None,
            "assignees": sorted(str(a["resourceId"]) for a in assignments
                                if a["eventId"] == t["id"])}
    return view


def page_view(board_json) -> dict:
    view = {}
    for c in board_json["cards"]:
        assert c["id"] not in view, f"card {c['id']} shown twice: {board_json['cards']}"
        view[c["id"]] = {"name": c["name"], "column": c["column"], "lane": c["lane"],
                         "assignees": sorted(c["assignees"])}
    return view


def assert_shows_db(board_json, db, board, what=""):
    page, expected = page_view(board_json), db_view(db, board)
    assert page == expected, (f"{what}: the page does not show the database's board\n"
                              f"  page     {page}\n  database {expected}")
    assert not any(c["pending"] for c in board_json["cards"]), board_json["cards"]
    assert board_json["revision"] == db.revision(board), (board_json["revision"],
                                                         db.revision(board))


def png_size(path: str):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def page_problems(browser, page, allowed=()):
    """Script errors and failed requests the page logged, except the expected ones."""
    problems = browser.call("read", page=page)["problems"]
    return [p for p in problems if not any(re.search(a, p) for a in allowed)]


class Pages:
    """What the page tests share: the pages a test opens, closed at its end."""

    @pytest.fixture(autouse=True)
    def _pages(self, browser, db):
        """Each test changes the board in a snapshot of its tables and closes its pages."""
        self.opened = []
        with db.snapshot("tasks", "assignments", "resources"):
            yield
            for name in self.opened:
                browser.call("closePage", page=name)

    def open_page(self, browser, name, url, **kw):
        """Opens the page at url as `name`; returns the board it shows."""
        answer = browser.call("open", page=name, url=url, **kw)
        self.opened.append(name)
        return answer["board"]


class TestBoardPage(Pages):
    CONF = page_conf()
    # a card without a swimlane (NULL prio) among them: the page's row of its own for it
    SAMPLE_DATA = ("setup", "teardown")
    SAMPLE_EDGES = True

    @classmethod
    def prepare_class(cls, httpd):
        install_page(httpd)

    def open(self, browser, httpd, name, **kw):
        return self.open_page(browser, name, httpd.url("/board/"), **kw)

    def test_tb_750_01(self, env, httpd, db, browser):
        # one user: load, move a card, add one with an assignee, rename it, delete another;
        # each step saved (the database says so) and the page showing the database's board;
        # after a reload the page shows it all again
        board = self.board
        view = self.open(browser, httpd, "a")
        assert view["status"] == "saved" and view["loads"] == 1, view
        assert_shows_db(view, db, board, "loaded")
        columns = [c["id"] for c in db.expected_rows(board.stores["columns"])]
        lanes = [s["id"] for s in db.expected_rows(board.stores["swimlanes"])]
        assert view["columns"] == columns, view["columns"]

        # drag a card into another column of its swimlane: a sync updating its status
        tasks = db.expected_rows(board.stores["tasks"])
        moving = next(t for t in tasks if t["prio"] in lanes and t["status"] != columns[-1])
        rev = db.revision(board)
        view = browser.call("drag", page="a", card=str(moving["id"]), column=columns[-1],
                            lane=moving["prio"])["board"]
        assert db.scalar("SELECT status FROM tasks WHERE id = %s", (moving["id"],)) == columns[-1]
        assert db.revision(board) == rev + 1
        assert_shows_db(view, db, board, "after the move")

        # a new card with an assignee: one sync adding the task and its assignment, the
        # assignment naming the task by its phantom id
        person = db.expected_rows(board.stores["resources"])[-1]
        before = {t["id"] for t in tasks}
        view = browser.call("add", page="a", name="Written in the browser", column=columns[0],
                            lane=lanes[0], resource=person["id"])["board"]
        added = db.query("SELECT id, name, status, prio FROM tasks WHERE name = %s",
                         ("Written in the browser",))
        assert len(added) == 1 and added[0][1:] == ("Written in the browser", columns[0],
                                                    lanes[0]), added
        new_id = added[0][0]
        assert new_id not in before
        assert db.query("SELECT resource FROM assignments WHERE event = %s",
                        (new_id,)) == [(person["id"],)]
        assert_shows_db(view, db, board, "after the add")
        card = next(c for c in view["cards"] if c["id"] == str(new_id))
        assert card["assigneeNames"] == [person["name"]], card

        # rename it in place
        view = browser.call("rename", page="a", card=str(new_id), name="Renamed in the browser")
        view = view["board"]
        assert db.scalar("SELECT name FROM tasks WHERE id = %s", (new_id,)) == \
            "Renamed in the browser"
        assert_shows_db(view, db, board, "after the rename")

        # delete a card with assignees: the task and its assignments are gone
        doomed = next(t for t in tasks if t["id"] != moving["id"] and db.scalar(
            "SELECT COUNT(*) FROM assignments WHERE event = %s", (t["id"],)))
        view = browser.call("delete", page="a", card=str(doomed["id"]))["board"]
        assert db.scalar("SELECT COUNT(*) FROM tasks WHERE id = %s", (doomed["id"],)) == 0
        assert db.scalar("SELECT COUNT(*) FROM assignments WHERE event = %s",
                         (doomed["id"],)) == 0
        assert_shows_db(view, db, board, "after the delete")
        assert view["status"] == "saved" and view["message"] is None, view

        # the screenshot of the board, kept with the test run's state
        shots = os.path.join(env.state_dir, "browser")
        os.makedirs(shots, exist_ok=True)
        path = browser.call("screenshot", page="a",
                            path=os.path.join(shots, "board.png"))["path"]
        width, height = png_size(path)
        assert width >= 800 and height >= 400, (width, height)
        tbtest.ARTIFACTS.append(("screenshot of the demo board", path))
        print(f"screenshot: {path}")

        # a reload shows what the database holds: everything above was saved
        view = browser.call("reload", page="a")["board"]
        assert view["loads"] == 1 and view["syncs"] == 0, view      # a fresh page
        assert_shows_db(view, db, board, "after the reload")
        names = {c["name"] for c in view["cards"]}
        assert "Renamed in the browser" in names and doomed["name"] not in names
        assert page_problems(browser, "a") == []

    def test_tb_750_02(self, httpd, db, browser):
        # two users on one board: every change of one appears in the other's page without a
        # reload, through the events handler and an empty sync (no second load)
        board = self.board
        self.open(browser, httpd, "a")
        self.open(browser, httpd, "b")
        # both event streams are open before anything changes
        browser.call("waitLive", page="a")
        browser.call("waitLive", page="b")
        columns = [c["id"] for c in db.expected_rows(board.stores["columns"])]
        lanes = [s["id"] for s in db.expected_rows(board.stores["swimlanes"])]
        tasks = db.expected_rows(board.stores["tasks"])
        moving = next(t for t in tasks if t["prio"] in lanes and t["status"] != columns[0])

        t0 = time.monotonic()
        browser.call("drag", page="a", card=str(moving["id"]), column=columns[0],
                     lane=moving["prio"])
        seen = browser.call("waitCard", page="b", card=str(moving["id"]), column=columns[0])
        moved_in = time.monotonic() - t0

        a = browser.call("add", page="a", name="Seen by the other", column=columns[1],
                         lane=lanes[-1], resource=None)["board"]
        new_id = next(c["id"] for c in a["cards"] if c["name"] == "Seen by the other")
        browser.call("waitCard", page="b", card=new_id, column=columns[1])
        browser.call("rename", page="a", card=new_id, name="Renamed for the other")
        browser.call("waitCard", page="b", card=new_id, name="Renamed for the other")
        browser.call("delete", page="a", card=str(moving["id"]))
        seen = browser.call("waitCard", page="b", card=str(moving["id"]), gone=True)["board"]

        assert seen["loads"] == 1, f"the other page loaded the board again: {seen}"
        assert seen["liveSyncs"] >= 1 and seen["syncs"] == seen["liveSyncs"], seen
        browser.call("waitStatus", page="b", status="saved")
        seen = browser.call("read", page="b")["board"]
        assert_shows_db(seen, db, board, "the other page")
        assert moved_in < 10, f"the move took {moved_in:.1f} s to reach the other page"
        assert page_problems(browser, "a") == [] and page_problems(browser, "b") == []

    def test_tb_750_03(self, httpd, db, browser):
        # another writer changed the board behind the page's back (and the page missed the
        # event): its stale sync gets 409 under the record policy, since the journal cannot
        # tell what changed; the page shows the server's message, loads the board again and
        # shows what the database holds, the other writer's change included
        board = self.board
        view = self.open(browser, httpd, "a", block=["**/api/events"])
        assert not view["live"], view
        tasks = db.expected_rows(board.stores["tasks"])
        columns = [c["id"] for c in db.expected_rows(board.stores["columns"])]
        lanes = [s["id"] for s in db.expected_rows(board.stores["swimlanes"])]
        target = next(t for t in tasks if t["prio"] in lanes and t["status"] != columns[0])
        db.execute("UPDATE tasks SET name = %s WHERE id = %s", ("Changed elsewhere", target["id"]))
        view = browser.call("drag", page="a", card=str(target["id"]), column=columns[0],
                            lane=target["prio"], wait="load")["board"]
        assert view["loads"] == 2 and view["message"], view
        assert "409" not in view["message"] and "reload" in view["message"].lower(), view
        assert db.scalar("SELECT status FROM tasks WHERE id = %s",
                         (target["id"],)) == target["status"], "the refused sync was applied"
        assert_shows_db(view, db, board, "after the 409")
        card = next(c for c in view["cards"] if c["id"] == str(target["id"]))
        assert card["name"] == "Changed elsewhere" and card["column"] == target["status"], card
        assert page_problems(browser, "a", allowed=[r"409", r"ERR_FAILED", r"events"]) == []


class TestCrossOrigin(Pages):
    """The page from one origin, the API on another: TaskBoardAllowOrigin and credentials."""

    @classmethod
    def prepare_class(cls, httpd):
        cls.allowed_port, cls.other_port = tbtest.free_port(), tbtest.free_port()
        htpasswd = tbtest.write_htpasswd(httpd, {USER: PASSWORD})
        cls.CONF = page_conf(
            tbtest.auth_mods() + "<Location /api>\n"
            '    AuthType Basic\n    AuthName "board"\n'
            f'    AuthUserFile "{htpasswd}"\n'
            # preflights carry no credentials: the module answers them (docs/configuration.md)
            "    <LimitExcept OPTIONS>\n        Require valid-user\n    </LimitExcept>\n"
            f"    TaskBoardAllowOrigin http://127.0.0.1:{cls.allowed_port}\n"
            "</Location>\n"
            # the page's other origins: two more ports of the same server
            + "".join(f"Listen 127.0.0.1:{p}\n<VirtualHost 127.0.0.1:{p}>\n"
                      f'    DocumentRoot "{httpd.root}/htdocs"\n</VirtualHost>\n'
                      for p in (cls.allowed_port, cls.other_port)))
        install_page(httpd)
        cls.api = httpd.url("/api")

    def page_url(self, port):
        return f"http://127.0.0.1:{port}/board/?api={self.api}"

    def credentials(self):
        return {"username": USER, "password": PASSWORD, "origin": self.api.rsplit("/", 1)[0]}

    def open(self, browser, name, port, **kw):
        return self.open_page(browser, name, self.page_url(port), **kw)

    def test_tb_750_10(self, httpd, db, browser):
        # the allowed origin's page loads, saves and follows the board live, with the user's
        # credentials on every request (the API refuses requests without them)
        board = self.board
        log_start = self.access_log_size(httpd)
        view = self.open(browser, "a", self.allowed_port, credentials=self.credentials())
        assert view["status"] == "saved" and view["message"] is None, view
        assert_shows_db(view, db, board, "cross-origin load")
        # the event stream of the API's origin opens, with credentials
        assert browser.call("waitLive", page="a")["board"]["live"]

        columns = [c["id"] for c in db.expected_rows(board.stores["columns"])]
        lanes = [s["id"] for s in db.expected_rows(board.stores["swimlanes"])]
        tasks = db.expected_rows(board.stores["tasks"])
        moving = next(t for t in tasks if t["prio"] in lanes and t["status"] != columns[-1])
        view = browser.call("drag", page="a", card=str(moving["id"]), column=columns[-1],
                            lane=moving["prio"])["board"]
        assert db.scalar("SELECT status FROM tasks WHERE id = %s", (moving["id"],)) == columns[-1]
        assert_shows_db(view, db, board, "after a cross-origin sync")

        # someone else's change (a sync with the same credentials) reaches the page live
        other = next(t for t in tasks if t["id"] != moving["id"])
        r = requests.post(httpd.url("/api/sync"), auth=(USER, PASSWORD), timeout=30,
                          json={"type": "sync", "requestId": 7501, "tasks": {"updated": [
                              {"id": other["id"], "name": "Renamed by another user"}]}})
        assert r.status_code == 200, tbtest.describe(r)
        view = browser.call("waitCard", page="a", card=str(other["id"]),
                            name="Renamed by another user")["board"]
        assert view["loads"] == 1 and view["liveSyncs"] >= 1, view

        # and the sync's preflight went through the module: OPTIONS answered 204 unauthenticated
        tbtest.poll(lambda: re.search(r'"OPTIONS /api/sync HTTP/1.1" 204 ',
                                      self.access_log(httpd, log_start)), 10,
                    what="the sync's preflight (204) in the access log")
        assert page_problems(browser, "a") == []

    def test_tb_750_11(self, httpd, db, browser):
        # a page of an origin the server does not list: the browser refuses every answer and
        # does not send the sync at all (its preflight gets 403); nothing changes
        log_start = self.access_log_size(httpd)
        with tbtest.Unchanged(db):
            view = self.open(browser, "x", self.other_port, credentials=self.credentials())
            assert view["cards"] == [] and view["status"] == "unsaved", view
            assert "could not be" in (view["message"] or ""), view
            load = browser.call("fetch", page="x", url=f"{self.api}/load")
            assert load["fetched"] is False and "TypeError" in load["error"], load
            sync = browser.call("fetch", page="x", url=f"{self.api}/sync", init={
                "method": "POST", "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"type": "sync", "requestId": 7511, "tasks": {
                    "removed": [{"id": t["id"]} for t in
                                db.expected_rows(self.board.stores["tasks"])]}})})
            assert sync["fetched"] is False and "TypeError" in sync["error"], sync
        log = tbtest.poll(lambda: (lambda text: re.search(r'"OPTIONS /api/sync HTTP/1.1" 403 ',
                                                          text) and text)(
            self.access_log(httpd, log_start)), 10, what="the refused preflight in the access log")
        assert '"POST /api/sync' not in log, \
            "the browser sent the sync although its preflight was refused"

    def test_tb_750_12(self, httpd, browser):
        # the allowed origin with a wrong password: httpd answers 401 (before the module), so
        # the page can load nothing: it is the credentials, not the origin alone, that let
        # test_tb_750_10's page in.  The 401 carries the origin's headers and the module's JSON,
        # so the page sees it as a 401, not as a network error.
        httpd.expect_log("AH01617")             # mod_auth_basic: password mismatch
        log_start = self.access_log_size(httpd)
        wrong = dict(self.credentials(), password="not-the-password")
        view = self.open(browser, "n", self.allowed_port, credentials=wrong)
        assert view["cards"] == [] and "could not be" in (view["message"] or ""), view
        answer = browser.call("fetch", page="n", url=f"{self.api}/load")
        assert answer["fetched"] is True and answer["status"] == 401, answer
        assert json.loads(answer["body"])["code"] == 401, answer
        # a page that could not load the board does not follow it (before, its events request
        # came after the test had ended, and its 401 landed in the next test's error log)
        browser.call("closePage", page="n")
        self.opened.remove("n")
        # (an access log line of the events stream is written when it ends: test_750_10's
        # stream, closed with its page, may be logged here, with 200)
        log = self.access_log(httpd, log_start)
        assert not re.search(r'"GET /api/events HTTP/1.1" 401 ', log), \
            "the page opened the events stream of a board it could not load"

    @staticmethod
    def access_log_size(httpd) -> int:
        return os.path.getsize(os.path.join(httpd.root, "logs", "access_log"))

    @staticmethod
    def access_log(httpd, start: int) -> str:
        """What the access log got since byte start (httpd writes each line as it ends)."""
        with open(os.path.join(httpd.root, "logs", "access_log"), "rb") as f:
            f.seek(start)
            return f.read().decode("utf-8", "replace")
