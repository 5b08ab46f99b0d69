"""Two httpd instances (two "machines") on different ports serve one board from the one MariaDB,
with concurrent syncs through both: each client alternates between the nodes request by request.

The guarantees are those of one node: every acknowledged change is in the database, nothing is
duplicated or orphaned, and the revision rose by exactly one per applied sync.  The revision is
kept in the database, not in a process, so the revisions answered to the applied syncs of both
nodes are all distinct and are exactly before+1..after; each client's own revisions increase; and
in real time, a sync that starts after another one was answered gets a higher revision, a load a
revision no lower, whichever node served either of them.  Once with TaskBoardConflictPolicy reject
(clients reload and save again on 409) and TaskBoardRetryTables, once with off and without.  Sizes scale with TB_STORM_SCALE.
"""

import json

import boards
import storm
import tbtest
from storm import RETRY_TABLES, scaled

CLIENTS = 8

# per node: several processes with their own connection pools
MPM = """\
StartServers 3
ServerLimit 4
ThreadsPerChild 6
MinSpareThreads 6
MaxSpareThreads 24
MaxRequestWorkers 24
"""


class TestTwoNodes:
    # each test starts both nodes with its own configuration and loads the sample data
    SAMPLE_DATA = ("teardown",)

    def run_storm(self, env, httpd, node2, db, tag: str, policy: str, extra: str = "") -> dict:
        conf = boards.board_conf(extra=f"    TaskBoardConflictPolicy {policy}\n" + extra) + MPM
        board = tbtest.parse_board(conf)
        httpd.reload(conf)
        node2.reload(conf)
        env.db_load()
        before = storm.revision(db)
        s = storm.Storm(tag, [httpd, node2], env.current_test, clients=CLIENTS,
                        check_revision=policy == "reject", max_ops=scaled(90))
        s.start()
        s.finish(timeout=300, env=env)
        result = s.verify(db, before, exact=True)
        # every client did all its syncs, through both nodes
        assert result["syncs_acknowledged"] == CLIENTS * sum(
            1 for i in range(scaled(90)) if storm.PATTERN[i % len(storm.PATTERN)] != "load")
        per_node = [s.tally.n("sync", "200", node=i) for i in (0, 1)]
        assert min(per_node) > 0.3 * sum(per_node), per_node
        # both nodes load the same board, equal to the database
        for h in (httpd, node2):
            tbtest.check_load(h.get("/api/load"), board, db)
        result["syncs_200_per_node"] = per_node
        print(f"\n[950 {policy}] " + json.dumps(result, sort_keys=True))
        return result

    def test_tb_950_01(self, env, httpd, node2, db):
        # the revision check: conflicts happen across the nodes, clients reload and save again
        # (with the retry records of the sample configuration)
        result = self.run_storm(env, httpd, node2, db, "r", "reject", RETRY_TABLES)
        assert result["conflicts_409"] > 0

    def test_tb_950_02(self, env, httpd, node2, db):
        # no revision check: last write wins, every sync applies at once (no retry records)
        result = self.run_storm(env, httpd, node2, db, "o", "off")
        assert result["conflicts_409"] == 0
