"""Process pools for the training commands: one worker per core, one BLAS thread each.

Each worker already keeps a core busy; OpenBLAS's own threads (one per core
in every worker) would spin against the other workers for products too small
to gain from them. Held to one thread, `dataset build --dataset F1W2` makes
examples about four times as fast on 2 cores (`make bench` measures it).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

from threadpoolctl import threadpool_limits


def _one_thread() -> None:
    threadpool_limits(limits=1)


def process_pool(*, workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` processes whose BLAS and OpenMP run on one thread each."""
    return ProcessPoolExecutor(max_workers=workers, initializer=_one_thread)
