"""Fixtures of the mod_taskboard integration suite (see README.md in this folder).

- `env` (session): private MariaDB on a free port with the sample data, the module path, tbctl.sh.
- `httpd` (session): the one running server.
- `node2` (module): a second server on the same database, for the two-node tests.
- `galera` (session, only with TB_GALERA=1): a 3-node MariaDB Galera cluster and HAProxy
  (tests/lib/galera.py), started on first use; `galera_httpds`: two httpd nodes for it, each
  pointed where the test says (Httpd.db_port).
- `_class_scope` (class, autouse): each test class declares its test.conf (`CONF`), when the sample
  data is loaded again (`SAMPLE_DATA`) and hooks for what else it needs; this fixture restarts
  the server with it and does the rest (README.md, "Test classes").
- `_check_error_log` (autouse, every test): new warn/error/crit/... lines in the error log fail the
  test unless the test declared them with `httpd.expect_log(...)`.
"""

import inspect
import os
import re
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# the helpers the benchmarks share (tests/lib: sse, procfs)
sys.path.insert(1, os.path.join(os.path.dirname(HERE), "lib"))

import sanitizers  # noqa: E402
import tbtest  # noqa: E402


@pytest.fixture(scope="session")
def env(request):
    e = tbtest.TbEnv(verbosity=request.config.getoption("verbose"))
    if not os.path.exists(e.module):
        pytest.exit(f"module not built: {e.module} (run: make -f Makefile.apxs)", returncode=3)
    e.stop_leftovers()
    e.db_start()
    try:
        e.db_load()
        yield e
    finally:
        e.stop_all()
        e.db_stop()


@pytest.fixture(scope="session")
def httpd(env) -> tbtest.Httpd:
    h = env.new_httpd("httpd")
    yield h
    h.stop()
    bad = h.error_log.check()
    assert not bad, "error_log at shutdown:\n" + "\n".join(bad + h.crash_reports(bad))


@pytest.fixture(scope="session")
def db(env) -> tbtest.Db:
    return env.db


@pytest.fixture(scope="module")
def node2(env, request) -> tbtest.Httpd:
    """A second httpd (another "machine") on the same database, for the tests of one file:
    ServerRoot node670 for test_670_..., stopped after the file's last test."""
    h = env.new_httpd("node" + request.module.__name__.split("_")[1])
    yield h
    h.stop()


class GaleraSetup:
    """What the `galera` fixture gives: .cluster (galera.Cluster) and .haproxy (galera.Haproxy)."""

    def __init__(self, cluster, haproxy):
        self.cluster = cluster
        self.haproxy = haproxy


@pytest.fixture(scope="session")
def galera(env):
    """A 3-node Galera cluster and HAProxy in front of it, from conf/galera/, started on first
    use (some 30 s) and stopped, by pid, at the end of the session.  Skips unless TB_GALERA=1
    (make -f Makefile.apxs test-galera)."""
    if os.environ.get("TB_GALERA") != "1":
        pytest.skip("the Galera tests run with TB_GALERA=1 (make -f Makefile.apxs test-galera)")
    import galera as galera_lib
    cluster = galera_lib.Cluster(env.state_dir)
    haproxy = galera_lib.Haproxy(env.state_dir, cluster)
    try:
        cluster.start()
        haproxy.start()
        yield GaleraSetup(cluster, haproxy)
    finally:
        haproxy.stop()
        cluster.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed Galera test shows the end of each node's and HAProxy's log."""
    outcome = yield
    rep = outcome.get_result()
    setup = item.funcargs.get("galera") if hasattr(item, "funcargs") else None
    if rep.when == "call" and rep.failed and setup is not None:
        try:
            rep.sections.append(("galera and haproxy logs",
                                 setup.cluster.logs() + "\n" + setup.haproxy.logs()))
        except Exception as e:     # the failure itself matters more
            rep.sections.append(("galera and haproxy logs", f"(not available: {e!r})"))


@pytest.fixture(scope="session")
def galera_httpds(env, galera):
    """Two httpd nodes (ServerRoots galera1, galera2) for the Galera tests; each test sets their
    db_port (a cluster node or HAProxy) and reloads them."""
    nodes = [env.new_httpd("galera1"), env.new_httpd("galera2")]
    yield nodes
    for h in nodes:
        h.stop()


@pytest.fixture(autouse=True)
def _check_error_log(env, request):
    env.current_test = request.node.name
    yield
    env.current_test = None


# ------------------------------------------------------------------------------------------------
# What a test class runs on, declared by the class (README.md, "Test classes"):
#
#   CONF         the test.conf the server runs for the class: reloaded once, before its first test
#                (none: the class starts no server, or its tests reload it themselves)
#   CACHE_OFF    True: tbtest.CACHE_OFF_CONF is appended to CONF (the load cache off)
#   BOARD        the text `cls.board` is parsed from, when it is not CONF
#   SAMPLE_DATA  when sql/schema.sql and sql/sample.sql are loaded again: any of "setup" (before
#                prepare_class and the server start), "started" (once the server runs), "test"
#                (before each test), "teardown" (after the class's last test)
#   SAMPLE_EDGES True: the loads at "setup", "started" and "test" put
#                tests/integration/sample_edges.sql on top, the edge cases of each field type
#                (sample.sql is the guide's board, without them); "teardown" leaves the plain
#                board to the next class
#   prepare_class(cls, <fixtures>)  classmethod, before the server starts: tables, password files,
#                a second node; it may set cls.CONF
#   cleanup_class(cls, <fixtures>)  classmethod, after the last test, before "teardown"
#
# The hooks name the fixtures they need, as a test does (env, httpd, db, node2, ...).  A class
# without any of these gets nothing; a test function outside a class neither.

SAMPLE_DATA_MOMENTS = frozenset(("setup", "started", "test", "teardown"))


def _sample_moments(cls) -> frozenset:
    when = frozenset(getattr(cls, "SAMPLE_DATA", ()))
    unknown = when - SAMPLE_DATA_MOMENTS
    assert not unknown, (f"{cls.__name__}.SAMPLE_DATA: {sorted(unknown)} are no moments "
                         f"({sorted(SAMPLE_DATA_MOMENTS)})")
    return when


def _call_hook(request, cls, name):
    hook = getattr(cls, name, None)
    if hook is not None:
        names = inspect.signature(hook).parameters
        hook(**{n: request.getfixturevalue(n) for n in names})


@pytest.fixture(autouse=True, scope="class")
def _class_scope(request, env):
    cls = request.cls
    if cls is None:
        yield
        return
    when = _sample_moments(cls)
    edges = getattr(cls, "SAMPLE_EDGES", False)
    if "setup" in when:
        env.db_load_sample(edges)
    _call_hook(request, cls, "prepare_class")
    conf = getattr(cls, "CONF", None)
    board = getattr(cls, "BOARD", None) or conf
    if board:
        cls.board = tbtest.parse_board(board)
    if conf:
        # the session's server is made only for the classes that use it
        request.getfixturevalue("httpd").reload(
            conf + (tbtest.CACHE_OFF_CONF if getattr(cls, "CACHE_OFF", False) else ""))
    if "started" in when:
        env.db_load_sample(edges)
    yield
    # whatever a test did to the database, the next class finds it running
    if not env.db_running():
        env.db_start()
    _call_hook(request, cls, "cleanup_class")
    if "teardown" in when:
        env.db_load_sample()


@pytest.fixture(autouse=True)
def _sample_data_per_test(request, env):
    if request.cls is not None and "test" in _sample_moments(request.cls):
        env.db_load_sample(getattr(request.cls, "SAMPLE_EDGES", False))


# Sanitizer reports (the sanitizer runs set TB_SANITIZER_REPORTS to the folder the runtimes
# write into, one file per process: asan.PID, ubsan.PID, tsan.PID).  An httpd child that
# AddressSanitizer or UBSan stops exits with status 1, which httpd does not log, and
# ThreadSanitizer lets the process go on, so these files are the only trace: they are read after
# every test like the error log.  A process goes on writing to its file (ThreadSanitizer appends
# one report per race, LeakSanitizer writes at exit), so what was read of each file is
# remembered by offset, and a report still being written is waited for: a report read half-way
# would show only its first lines, and the rest would never be shown.
_SANITIZER_READ = {}        # file name -> bytes already reported
_SANITIZER_ASIDE = []       # (test, file, sanitizers.Known): httpd's own, listed at the end

# The last line of a complete report: ASan and UBSan with halt_on_error end the process with
# "==PID==ABORTING"; ThreadSanitizer closes each report with a line of "="; every report has a
# SUMMARY line.
_RE_REPORT_END = re.compile(rb"(==\d+==ABORTING|^==================|^SUMMARY: \w+Sanitizer: .*)\n\Z",
                            re.MULTILINE)
_RE_REPORT_PID = re.compile(r"\.(\d+)$")


def _report_complete(path, data):
    """A report is complete when it ends with a report's last line, or when the process that
    wrote it is gone."""
    end = _RE_REPORT_END.search(data[-300:])
    if not data or (end and (not end.group(1).startswith(b"====") or b"SUMMARY:" in data)):
        return True
    m = _RE_REPORT_PID.search(path)
    return not (m and tbtest.pid_alive(int(m.group(1))))


def _read_report(path, offset):
    """The bytes of `path` from `offset`, once the writer finished the report (at most 30 s:
    symbolizing a deep stack takes a while on a busy machine)."""
    deadline = time.monotonic() + 30
    last = None
    while True:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
        if data == last and _report_complete(path, data):
            return data
        if time.monotonic() >= deadline:
            return data + b"\n(report still incomplete after 30 s)\n"
        last = data
        time.sleep(0.3)


def _sanitizer_reports():
    folder = os.environ.get("TB_SANITIZER_REPORTS")
    if not folder or not os.path.isdir(folder):
        return []
    found = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        offset = _SANITIZER_READ.get(name, 0)
        try:
            if os.path.getsize(path) <= offset:
                continue
        except OSError:
            continue
        data = _read_report(path, offset)
        _SANITIZER_READ[name] = offset + len(data)
        counted, aside = sanitizers.split(data.decode("utf-8", "replace"))
        for k, _ in aside:
            _SANITIZER_ASIDE.append((os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0],
                                     path, k))
        for report in counted:
            lines = report.splitlines()
            shown = lines[:120]
            # the SUMMARY lines of reports past the part shown
            shown += [ln for ln in lines[120:] if ln.startswith("SUMMARY:")]
            found.append(f"sanitizer report {path}:\n  " + "\n  ".join(shown))
    return found


def _log_problems(env):
    problems = []
    for h in env.httpds:
        bad = h.error_log.check()
        if bad:
            problems.append(f"{h.name}: {h.error_log.path}:\n  " + "\n  ".join(bad))
        problems += h.crash_reports(bad)
    return problems + _sanitizer_reports()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Checks the error log right after the test body, so that unexpected lines fail the test
    itself (not its teardown).  Lines logged by class fixtures go to the next test's check."""
    outcome = yield
    env = item.funcargs.get("env")
    if env is None:
        return
    problems = _log_problems(env)
    if problems and outcome.excinfo is not None:
        item.add_report_section("call", "error_log", "\n".join(problems))
    elif problems:
        pytest.fail("unexpected lines in the error log (declare them with httpd.expect_log), "
                    "or sanitizer reports:\n"
                    + "\n".join(problems), pytrace=False)


def pytest_terminal_summary(terminalreporter):
    """Names the files the run left to look at (tbtest.ARTIFACTS), such as screenshots."""
    for label, path in tbtest.ARTIFACTS:
        terminalreporter.write_line(f"{label}: {path}")
    for test, path, k in _SANITIZER_ASIDE:
        terminalreporter.write_line(f"sanitizer report set aside as httpd's own ({k.name}: "
                                    f"{k.reason}): {path}, during {test}")
