"""Shared helpers of the benchmark scripts: data location, timing, peak memory, results tables.

* :func:`measure` runs a callable and returns its result, wall seconds and peak memory: the
  process's peak resident set size (RSS) while it ran, minus the RSS when it started, in MiB.
  On Linux the kernel's high-water mark is reset first (``/proc/self/clear_refs``), so the
  peak is exact; elsewhere a sampling thread reads the RSS every few milliseconds.
* :func:`machine` describes the machine in one line; :func:`markdown_table` formats rows.

Benchmarks live outside the package and import it as users do.
"""
from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("STOREMIND_DATA", ROOT.parent / "shared" / "data")).resolve()
RESULTS = ROOT / "benchmarks" / "results"

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_MIB = 1024 * 1024

__all__ = [
    "DATA",
    "RESULTS",
    "ROOT",
    "Measured",
    "machine",
    "markdown_table",
    "measure",
    "rss_mib",
    "peak_rss_mib",
    "reset_peak_rss",
    "fmt",
]


@dataclass
class Measured:
    """Outcome of :func:`measure`: the callable's return value, seconds and peak MiB."""

    value: Any
    seconds: float
    peak_mib: float


def rss_mib() -> float:
    """Current resident set size of this process in MiB."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE / _MIB
    except OSError:  # not Linux: ru_maxrss is the best available
        return peak_rss_mib()


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB (since start or the last reset)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / _MIB


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux >= 4.0); False if impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class _Sampler(threading.Thread):
    def __init__(self, interval: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = rss_mib()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, rss_mib())
            time.sleep(self.interval)

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return max(self.peak, rss_mib())


def measure(fn: Callable[[], Any]) -> Measured:
    """Run ``fn()``; its result, wall seconds and peak extra RSS (MiB) while it ran."""
    import gc

    gc.collect()
    base = rss_mib()
    exact = reset_peak_rss()
    sampler = None if exact else _Sampler()
    if sampler is not None:
        sampler.start()
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    peak = peak_rss_mib() if exact else sampler.stop()
    return Measured(value, seconds, max(peak - base, 0.0))


def machine() -> str:
    """One line describing the CPU, cores, memory, OS and Python."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kib = int(fh.readline().split()[1])
        mem = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{cpu}, {cores} cores{mem}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def git_revision() -> str:
    """Short commit of the working tree (with ``+dirty`` when it has changes), or ``unknown``."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, check=True,
                               capture_output=True, text=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def fmt(value: Any, digits: int = 4) -> str:
    """A table cell: floats rounded, None as an en dash."""
    if value is None:
        return "–"
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        return f"{value:,.{digits}f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 4) -> str:
    """A GitHub Markdown table; cells pass through :func:`fmt`."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [fmt(c, digits).replace("|", "\\|").replace("\n", " ") for c in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
