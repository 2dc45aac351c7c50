"""Jobs run in spawned worker processes with a progress bar (decoding clips, rendering SynPD and SynAct videos),
started only when they repay their start."""

import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from pdlib.progress import progress_bar

# Seconds to start a pool of spawned workers: each imports the caller's main module and what the job needs
# (1-5 s measured from a script and from a notebook kernel, 2-core machine, 2026-12-07).
POOL_START_S = 3.0


def default_workers() -> int:
    """The CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_jobs(fn: Callable, jobs: list, workers: int | None = None, progress: bool = True, desc: str = "",
             unit: str = "it") -> list:
    """fn over `jobs`, results in job order, with one progress bar. `workers` processes (spawned: safe under
    Jupyter and torch) when more than one; None: every core, once the first job, run here, has shown that they
    would save more time than starting them costs (`POOL_START_S`), so that a few short jobs (a task of a small
    dataset, one new patient's videos) never wait for a pool. `fn` must be a module-level function; a worker
    that dies raises concurrent.futures' BrokenProcessPool."""
    bar = progress_bar(total=len(jobs), desc=desc, disable=not progress or not jobs, unit=unit)
    results, pending = [], list(jobs)
    if workers is None and pending:
        start = time.perf_counter()
        results.append(fn(pending.pop(0)))
        bar.update()
        workers = min(default_workers(), len(pending))
        saved = (time.perf_counter() - start) * len(pending) * (1 - 1 / max(workers, 1))
        workers = workers if saved > POOL_START_S else 1
    if min(workers or 1, len(pending)) <= 1:
        for job in pending:
            results.append(fn(job))
            bar.update()
    else:
        with ProcessPoolExecutor(min(workers, len(pending)), mp_context=get_context("spawn")) as pool:
            for r in pool.map(fn, pending, chunksize=max(1, min(8, len(pending) // (8 * workers)))):
                results.append(r)
                bar.update()
    bar.close()
    return results
