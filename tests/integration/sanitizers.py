"""The report files of the sanitizer runs (make -f Makefile.apxs integration-asan, integration-tsan).

The runtimes write into the folder named by TB_SANITIZER_REPORTS, one file per process (asan.PID,
ubsan.PID, tsan.PID).  conftest.py reads what is new after every test and fails the test with it;
run as a script, this checks a whole folder at the end of a run:

    python3 tests/integration/sanitizers.py FOLDER     # exit 1 when a report counts

KNOWN lists the ThreadSanitizer reports that come from httpd itself, which is not instrumented,
with the reason each one is not mod_taskboard's; such a report is set aside (and named at the end
of the run), never a frame of the module's own.  ThreadSanitizer's suppression file cannot say
this precisely enough: its patterns match any frame of any stack of a report, and the stacks of
httpd and APR end at their first frame (no frame pointers).
"""

import re
import sys
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple


@dataclass
class Known:
    name: str
    reason: str
    match: Callable[[str], bool]


# The child's main thread closes a client connection that httpd accepted, in APR, with no frame
# of the module on its stack: the event MPM stopping a child ungracefully (SIGTERM, or a graceful
# stop past GracefulShutdownTimeout) closes the sockets of the connections its workers still
# serve, so that they give up (close_worker_sockets() in server/mpm/event/event.c, called by
# signal_threads(ST_UNGRACEFUL)).  The worker's handler (an event stream) wrote to that socket
# before; nothing the tool can see orders the two.  mod_taskboard never closes a client
# connection, and none of its code runs in the child's main thread while workers serve requests.
_RE_MAIN_CLOSE = re.compile(
    r"^  (Write|Read) of size \d+ at \S+ by main thread[^\n]*:\n"
    r"    #0 close [^\n]*\n"
    r"    #1 <null> <null> \(libapr-1\.so\.0\+0x[0-9a-f]+\)\n\n", re.M)
_RE_ACCEPTED_FD = re.compile(
    r"^  Location is file descriptor \d+ created by (main thread|thread T\d+) at:\n"
    r"    #0 accept4 [^\n]*\n"
    r"    #1 apr_socket_accept ", re.M)

KNOWN = [
    Known("httpd-closes-busy-connections",
          "httpd's event MPM, stopping a child ungracefully, closes from the child's main thread "
          "the client connections its workers still serve (close_worker_sockets)",
          lambda r: ("WARNING: ThreadSanitizer: data race" in r
                     and bool(_RE_MAIN_CLOSE.search(r)) and bool(_RE_ACCEPTED_FD.search(r)))),
]

_RE_TSAN_REPORT = re.compile(r"^==================\nWARNING: ThreadSanitizer: .*?^==================$",
                             re.M | re.S)
# the line ThreadSanitizer writes at exit when it reported anything
_RE_TSAN_TOTAL = re.compile(r"^ThreadSanitizer: reported \d+ warnings$", re.M)


def known(report: str) -> Optional[Known]:
    for k in KNOWN:
        if k.match(report):
            return k
    return None


def split(text: str) -> Tuple[List[str], List[Tuple[Known, str]]]:
    """The reports in a piece of a report file: (those that count, those set aside as known).
    ThreadSanitizer writes one block per report; anything else (an ASan, LSan or UBSan report, a
    fatal error of a runtime) counts as one report."""
    counted, aside = [], []
    rest = text
    for m in _RE_TSAN_REPORT.finditer(text):
        k = known(m.group(0))
        if k:
            aside.append((k, m.group(0)))
        else:
            counted.append(m.group(0))
        rest = rest.replace(m.group(0), "", 1)
    rest = _RE_TSAN_TOTAL.sub("", rest).strip()
    if rest:
        counted.append(rest)
    return counted, aside


def main(argv: List[str]) -> int:
    import os

    if len(argv) != 2:
        print(f"usage: {argv[0]} REPORT_FOLDER", file=sys.stderr)
        return 2
    folder = argv[1]
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    count = 0
    for name in names:
        path = os.path.join(folder, name)
        with open(path, encoding="utf-8", errors="replace") as f:
            counted, aside = split(f.read())
        for k, _ in aside:
            print(f"sanitizers: {path}: set aside ({k.name}): {k.reason}")
        for r in counted:
            print(f"==== {path}\n{r}")
        count += len(counted)
    if count:
        print(f"sanitizers: {count} sanitizer report(s) above", file=sys.stderr)
        return 1
    print("sanitizers: no sanitizer reports" + (" (other than those set aside above)"
                                               if names else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
