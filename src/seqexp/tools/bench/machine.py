"""What the machine is doing while the benchmark runs: peak memory, and other seqexp processes that skew it."""

import os
import resource
import sys
from pathlib import Path


def peak_rss_mb() -> float:
    """Process-wide peak resident memory so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def _ancestors() -> set[int]:
    """This process and its parents (the shell or test that started the benchmark is not "other load")."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def other_seqexp_processes() -> list[str]:
    """Command lines of other running seqexp processes (training jobs, test runs): they skew every number here."""
    if not os.path.isdir("/proc"):
        return []
    found, mine = [], _ancestors()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) in mine:
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if "seqexp" in cmd and "python" in cmd:
            found.append(f"{pid}: {cmd[:160]}")
    return found
