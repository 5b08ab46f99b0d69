"""Audit stamps (TaskBoardField ... stamp=created-by|updated-by|created-at|updated-at): the module
writes the authenticated user (httpd's, here mod_auth_basic with a password file) and the time
into those columns on insert and on update, never the client, and returns them in the sync
answer's rows."""

import datetime

import requests

import tbtest
from tbtest import describe

USERS = {"alice": "wonderland", "bob": "builder"}

STORE = """\
    TaskBoardRevision options value name=revision
    <TaskBoardStore tasks>
        TaskBoardTable audit_tasks
        TaskBoardField name      string required
        TaskBoardField status    string
        TaskBoardField createdBy string   column=created_by stamp=created-by
        TaskBoardField updatedBy string   column=updated_by stamp=updated-by
        TaskBoardField createdAt datetime column=created_at stamp=created-at
        TaskBoardField updatedAt datetime column=updated_at stamp=updated-at
    </TaskBoardStore>
"""


# The stamp columns without defaults: the sample's tasks have DEFAULT CURRENT_TIMESTAMP ON UPDATE
# CURRENT_TIMESTAMP, which would hide a module that never writes the times.
TABLE = """CREATE TABLE audit_tasks (
    id INT AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    status VARCHAR(20) NULL,
    created_by VARCHAR(100) NULL,
    updated_by VARCHAR(100) NULL,
    created_at DATETIME NULL,
    updated_at DATETIME NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""


def conf(htpasswd: str) -> str:
    mods = tbtest.auth_mods()
    return (mods + "<Location /audit>\n" + STORE
            + f'    AuthType Basic\n    AuthName "board"\n    AuthUserFile "{htpasswd}"\n'
            + "    Require valid-user\n</Location>\n"
            + "<Location /audit/sync>\n    SetHandler taskboard-sync\n</Location>\n"
            + "<Location /open>\n" + STORE + "    SetHandler taskboard-sync\n</Location>\n")


def db_now(db) -> datetime.datetime:
    return db.scalar("SELECT UTC_TIMESTAMP()")


def near(iso: str, now: datetime.datetime) -> bool:
    if iso is None:
        return False
    t = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")
    return abs((t - now).total_seconds()) < 60


class TestAudit:

    SAMPLE_DATA = ("setup", "teardown")

    @classmethod
    def prepare_class(cls, httpd, db):
        cls.CONF = conf(tbtest.write_htpasswd(httpd, USERS))
        db.execute("DROP TABLE IF EXISTS audit_tasks")
        db.execute(TABLE)

    @classmethod
    def cleanup_class(cls, db):
        db.execute("DROP TABLE IF EXISTS audit_tasks")

    def sync(self, httpd, user, pkg, path="/audit/sync"):
        r = requests.post(httpd.url(path), json=pkg, timeout=10,
                          auth=(user, USERS[user]) if user else None)
        assert r.status_code == 200, describe(r)
        return r.json()

    def test_tb_690_01(self, httpd, db):
        # alice adds a card (what the client says of the stamps is ignored), bob changes it:
        # created stays alice's, updated becomes bob's, and each answer carries the stamps
        now = db_now(db)
        body = self.sync(httpd, "alice", {"type": "sync", "requestId": 1, "tasks": {"added": [
            {"$PhantomId": "_t", "name": "audited", "createdBy": "mallory",
             "updatedAt": "2001-01-01T00:00:00Z"}]}})
        row = body["tasks"]["rows"][0]
        assert row["createdBy"] == row["updatedBy"] == "alice", row
        assert near(row["createdAt"], now) and near(row["updatedAt"], now), row
        tid = row["id"]
        assert db.query("SELECT created_by, updated_by FROM audit_tasks WHERE id = %s",
                        (tid,))[0] == ("alice", "alice")
        # times the update must leave (created) and replace (updated)
        db.execute("UPDATE audit_tasks SET created_at = '2002-02-02 02:02:02', "
                   "updated_at = '2001-01-01 01:01:01' WHERE id = %s", (tid,))

        body = self.sync(httpd, "bob", {"type": "sync", "requestId": 2, "tasks": {"updated": [
            {"id": tid, "status": "done", "updatedBy": "mallory"}]}})
        row = body["tasks"]["rows"][0]
        assert row["id"] == tid and row["updatedBy"] == "bob", row
        assert near(row["updatedAt"], now), row
        assert "createdBy" not in row and "status" not in row, row   # unchanged / as sent
        assert db.query("SELECT created_by, updated_by, status FROM audit_tasks WHERE id = %s",
                        (tid,))[0] == ("alice", "bob", "done")
        created, updated = db.query("SELECT created_at, updated_at FROM audit_tasks "
                                    "WHERE id = %s", (tid,))[0]
        assert created == datetime.datetime(2002, 2, 2, 2, 2, 2), created
        assert abs((updated - now).total_seconds()) < 60, updated

        # an update of nothing the server stores writes nothing, stamps included
        body = self.sync(httpd, "alice", {"type": "sync", "requestId": 3, "tasks": {
            "updated": [{"id": tid, "cls": "x"}]}})
        assert "tasks" not in body, body
        assert db.scalar("SELECT updated_by FROM audit_tasks WHERE id = %s", (tid,)) == "bob"

    def test_tb_690_02(self, httpd, db):
        # no authentication in front: the user stamps are NULL, the time stamps are written;
        # and the authenticated location refuses a request without credentials (httpd's 401)
        body = self.sync(httpd, None, {"type": "sync", "requestId": 4, "tasks": {"added": [
            {"$PhantomId": "_o", "name": "anonymous"}]}}, path="/open")
        row = body["tasks"]["rows"][0]
        assert row["createdBy"] is None and row["updatedBy"] is None, row
        assert near(row["createdAt"], db_now(db)), row
        r = requests.post(httpd.url("/audit/sync"), json={"type": "sync", "requestId": 5},
                          timeout=10)
        assert r.status_code == 401, describe(r)
