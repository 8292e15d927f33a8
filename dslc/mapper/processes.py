"""Worker processes that a Ctrl-C can stop: the plumbing shared by the layer-parallel
`map_network` (dslc.mapper.network) and the co-design's pair workers (dslc.codesign.evaluate).

In: nothing of the search; `process_pool` makes a `ProcessPoolExecutor` of forked workers,
`stop_pool` ends one at once. A worker ignores SIGINT (Ctrl-C reaches the whole process
group; the parent decides), and exits as soon as its parent is gone (nobody would read its
results). It does not decide what the workers run.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

WATCH_SECONDS = 0.5
"""How often a worker process checks that its parent is alive."""
STOP_SECONDS = 2.0
"""How long an interrupted run waits for a terminated worker before killing it."""
FORK = multiprocessing.get_context("fork")
"""Forked, so that a worker's parent is this process (what the watchdog watches)."""


def process_pool(jobs: int, initializer: Callable[..., None] | None = None,
                 initargs: tuple[Any, ...] = ()) -> ProcessPoolExecutor:
    """`jobs` forked workers, each started by `start_worker` and then `initializer`.
    Submit under `sigint_blocked`: the pool forks its workers as tasks arrive."""
    return ProcessPoolExecutor(max_workers=jobs, mp_context=FORK, initializer=_start,
                               initargs=(os.getpid(), initializer, initargs))


def _start(parent: int, initializer: Callable[..., None] | None,
           initargs: tuple[Any, ...]) -> None:
    start_worker(parent)
    if initializer is not None:
        initializer(*initargs)


def start_worker(parent: int) -> None:
    """A worker's start: ignore SIGINT, then exit as soon as `parent` is no longer this
    process's parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    threading.Thread(target=_exit_with, args=(parent,), name="dslc-watchdog",
                     daemon=True).start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    os._exit(1)


@contextmanager
def sigint_blocked() -> Iterator[None]:
    """Block SIGINT while workers may be forked: a worker starts with it blocked and
    ignores it before unblocking, and a Ctrl-C pressed meanwhile reaches the parent when
    this ends."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """End `pool` now: what is queued is cancelled, what runs is abandoned."""
    # ProcessPoolExecutor cannot stop a running task (Python 3.14 adds
    # terminate_workers): terminate its processes, which it then reports broken.
    processes = list((pool._processes or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)  # typeshed: mistyped
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=STOP_SECONDS)
        if process.is_alive():
            process.kill()
    # Then let the pool's manager thread see them gone and close its wake-up pipe:
    # interpreter exit wakes every manager thread still alive, and one closing that
    # pipe meanwhile makes the wake-up fail (Python 3.11: "OSError: [Errno 9] Bad
    # file descriptor" printed after "interrupted").
    if isinstance(manager, threading.Thread):
        manager.join(timeout=STOP_SECONDS)
