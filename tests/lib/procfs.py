"""What /proc says of the processes of a test server: its children, their CPU time, the client
connections each holds.  Used by the integration tests and the benchmarks alike (Linux only)."""

import os
from typing import Dict, List, Optional, Set

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> List[str]:
    """The fields of /proc/PID/stat after the command name (which may hold spaces and
    parentheses): [state, ppid, ...]."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def children(ppid: int) -> Set[int]:
    """The live child processes of ppid (not the zombies)."""
    out = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            rest = _stat(int(d))
        except OSError:
            continue
        if int(rest[1]) == ppid and rest[0] != "Z":
            out.add(int(d))
    return out


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process (all its threads), in clock ticks (CLK_TCK a second); OSError
    once it is gone."""
    fields = _stat(pid)
    return int(fields[11]) + int(fields[12])


def tcp_sockets() -> List[List[str]]:
    """The rows of /proc/net/tcp and /proc/net/tcp6 (those that can be read), split: [1] is the
    local address (hex port after the last ":"), [3] the state (01 established, 08 close-wait),
    [9] the inode."""
    rows = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                rows += [line.split() for line in f]
        except OSError:
            pass
    return rows


def socket_inodes(pid: int) -> List[str]:
    """The inodes of the sockets a process has open; OSError when its fds cannot be read (it is
    gone, or another user's without the right to look)."""
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            out.append(link[8:-1])
    return out


def established(port: int, pids) -> Dict[int, Optional[int]]:
    """{pid: the established connections it holds on the local port `port`} for each of pids;
    None for a process whose fds cannot be read."""
    suffix = f":{port:04X}"
    inodes = {row[9] for row in tcp_sockets() if row[1].endswith(suffix) and row[3] == "01"}
    out: Dict[int, Optional[int]] = {}
    for pid in pids:
        try:
            out[pid] = sum(1 for i in socket_inodes(pid) if i in inodes)
        except OSError:
            out[pid] = None
    return out


def connections(port: int, pids) -> Dict[int, Optional[int]]:
    """Like established(), but every connection on the local port in any state but LISTEN: one
    whose client went away (CLOSE_WAIT) still has its server thread."""
    suffix = f":{port:04X}"
    inodes = {row[9] for row in tcp_sockets() if row[1].endswith(suffix) and row[3] != "0A"}
    out: Dict[int, Optional[int]] = {}
    for pid in pids:
        try:
            out[pid] = sum(1 for i in socket_inodes(pid) if i in inodes)
        except OSError:
            out[pid] = None
    return out


def vm_kib(pid: int, field: str) -> int:
    """VmRSS, VmHWM, ... of a process in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
