"""Shared helpers for the benchmarks: thread setup, interleaved timing, machine line, tables.

Import it from a script in ``benchmarks/`` (``from common import ...``; the
script's folder is on ``sys.path`` when it runs as ``python benchmarks/x.py``).

Timing takes turns in blocks (see ``time_interleaved``), so a machine whose load
changes during the run slows all of them alike and their ratio stays fair.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np


def blas_threads() -> int | None:
    """The number of threads NumPy's BLAS uses (None when threadpoolctl is missing)."""
    try:
        import threadpoolctl
    except ImportError:
        return None
    counts = [info["num_threads"] for info in threadpoolctl.threadpool_info()
              if info["user_api"] == "blas"]
    return max(counts) if counts else None


def blas_description() -> str:
    """NumPy's BLAS library, version and the CPU kernel it chose (via threadpoolctl)."""
    try:
        import threadpoolctl
    except ImportError:
        return "unknown (no threadpoolctl)"
    for info in threadpoolctl.threadpool_info():
        if info["user_api"] == "blas" and "numpy" in info.get("filepath", ""):
            kernel = info.get("architecture")
            return (f"{info['internal_api']} {info.get('version')}"
                    + (f", {kernel} kernels" if kernel else ""))
    return "unknown"


def set_threads(n: int | None = None, torch=None) -> int:
    """Give NumPy's BLAS (every loaded BLAS, via threadpoolctl) and torch ``n`` threads.

    ``n`` defaults to NumPy's current BLAS thread count (the CPU count without
    threadpoolctl). Returns the count used. The limit holds for the whole process.
    """
    if n is None:
        n = blas_threads() or os.cpu_count() or 1
    try:
        import threadpoolctl
    except ImportError:
        pass
    else:
        # kept alive at module level: the limit lasts as long as the object does
        global _thread_limit
        _thread_limit = threadpoolctl.threadpool_limits(n, user_api="blas")
    if torch is not None:
        torch.set_num_threads(n)
    return n


_thread_limit = None


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (the platform's processor string elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_lines(torch=None, sklearn=None, threads: int | None = None) -> list[str]:
    """A few lines naming the machine, the library versions and the thread counts."""
    load = ""
    if hasattr(os, "getloadavg"):
        load = ", load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())
    lines = [f"CPU: {cpu_model()}, {os.cpu_count()} logical cores{load}",
             f"Python {platform.python_version()}, NumPy {np.__version__}"]
    if torch is not None:
        lines[-1] += f", torch {torch.__version__}"
    if sklearn is not None:
        lines[-1] += f", scikit-learn {sklearn.__version__}"
    try:
        import chainrule

        lines[-1] += f", chainrule {chainrule.__version__}"
    except ImportError:
        pass
    lines.append(f"NumPy BLAS: {blas_description()}"
                 + (f" (OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']})"
                    if os.environ.get("OPENBLAS_CORETYPE") else ""))
    blas = blas_threads()
    torch_threads = torch.get_num_threads() if torch is not None else None
    lines.append(f"Threads: NumPy BLAS {blas if blas is not None else '? (no threadpoolctl)'}, "
                 f"torch {torch_threads if torch_threads is not None else '—'}"
                 + (f" (requested {threads})" if threads is not None else ""))
    return lines


def time_interleaved(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 2,
                     number: int = 1, rounds: int = 3, pause: float = 0.3,
                     cpu: dict[str, list[float]] | None = None) -> dict[str, list[float]]:
    """Seconds per call of each function: ``repeats`` samples, each the mean of ``number``.

    The contenders take turns in ``rounds`` blocks: each block pauses ``pause``
    seconds, warms up with ``warmup`` calls, then takes its share of the samples
    back to back. Blocks rather than call-by-call turns, because each library's
    idle worker threads (torch's OpenMP pool, OpenBLAS's) keep spinning for a
    while after it returns and would be charged to the other (measured: an MLP
    step at 2 threads read 6.3 ms when the turns were call by call, 2.0 ms on its
    own); the pause lets them go to sleep. Garbage is collected between samples,
    not inside them; the objects alive after the first warm-up are frozen
    (``gc.freeze``) so that collecting stays cheap. A dict given as ``cpu``
    receives the process's CPU seconds per call alongside (all threads, spinning
    included): on a shared machine wall time also counts the other jobs' turns.
    """
    for fn in fns.values():
        fn()
    gc.collect()
    gc.freeze()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    cpu = {} if cpu is None else cpu
    cpu.update({name: [] for name in fns})
    per_block = [repeats // rounds + (r < repeats % rounds) for r in range(rounds)]
    try:
        for share in per_block:
            for name, fn in fns.items():
                time.sleep(pause)
                for _ in range(warmup):
                    fn()
                for _ in range(share):
                    gc.collect()
                    start, start_cpu = time.perf_counter(), time.process_time()
                    for _ in range(number):
                        fn()
                    samples[name].append((time.perf_counter() - start) / number)
                    cpu[name].append((time.process_time() - start_cpu) / number)
    finally:
        gc.unfreeze()
    return samples


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def fmt_time(seconds: float | None, unit: str = "ms") -> str:
    """``seconds`` in ``unit`` ("ms" or "s"), or a dash when missing."""
    if seconds is None:
        return "—"
    if unit == "s":
        return f"{seconds:.3f}"
    value = seconds * 1e3
    return f"{value:.2f}" if value < 100 else f"{value:.1f}"


def fmt_ratio(ours: float | None, theirs: float | None) -> str:
    if ours is None or theirs is None:
        return "—"
    return f"{ours / theirs:.2f}×"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
                   right: Sequence[bool] | None = None) -> str:
    """A Markdown table; ``right[i]`` right-aligns column i (default: all but the first)."""
    if right is None:
        right = [False] + [True] * (len(headers) - 1)
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]

    def line(cells):
        return "| " + " | ".join(str(c).rjust(w) if r else str(c).ljust(w)
                                 for c, w, r in zip(cells, widths, right)) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if r else ("-" * (w + 2))
                          for w, r in zip(widths, right)) + "|"
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])
