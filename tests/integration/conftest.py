"""Fixtures of the mod_taskboard integration suite (see README.md in this folder).

- `env` (session): private MariaDB on a free port with the sample data, the module path, tbctl.sh.
- `httpd` (session): the one running server; each test class installs its test.conf and restarts
  it in a class-scoped autouse fixture.
- `_check_error_log` (autouse, every test): new warn/error/crit/... lines in the error log fail the
  test unless the test declared them with `httpd.expect_log(...)`.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

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


@pytest.fixture(autouse=True)
def _check_error_log(env, request):
    env.current_test = request.node.name
    yield
    env.current_test = None


# Sanitizer reports seen so far (the sanitizer run sets TB_SANITIZER_REPORTS).  An httpd child
# that AddressSanitizer or UBSan stops exits with status 1, which httpd does not log, so the
# report files are the only trace: they are checked after every test like the error log.
_SANITIZER_SEEN = set()


def _sanitizer_reports():
    folder = os.environ.get("TB_SANITIZER_REPORTS")
    if not folder or not os.path.isdir(folder):
        return []
    found = []
    for name in sorted(os.listdir(folder)):
        if name in _SANITIZER_SEEN:
            continue
        _SANITIZER_SEEN.add(name)
        path = os.path.join(folder, name)
        with open(path, "rb") as f:
            text = f.read(20000).decode("utf-8", "replace")
        found.append(f"sanitizer report {path}:\n  " + "\n  ".join(text.splitlines()[:80]))
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
