"""Thread limits for the native libraries (BLAS, OpenMP) that NumPy, SciPy and scikit-learn use.

The engine's dense products are small (d x d Gram matrices, a mini-batch against a few thousand
items); a multithreaded BLAS spends more waking its threads than computing them, measured up to
100x slower than one thread on a busy 2-core machine, and it competes with numba's own threads.
"""
from __future__ import annotations

import os
import sys

from threadpoolctl import ThreadpoolController

_controller: ThreadpoolController | None = None
_modules_at_scan = -1


def limit_threads(n_threads: int = 1, user_api: str | None = "blas"):
    """Context manager capping native thread pools at ``n_threads`` for its body.

    ``user_api`` is "blas", "openmp" or None for both. The controller scans the loaded libraries
    (~30 ms), so it is built once and rebuilt only after new modules were imported (which may
    have loaded new libraries, e.g. scikit-learn's OpenMP runtime).
    """
    global _controller, _modules_at_scan
    if _controller is None or len(sys.modules) != _modules_at_scan:
        _controller = ThreadpoolController()
        _modules_at_scan = len(sys.modules)
    return _controller.limit(limits=int(n_threads), user_api=user_api)


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. a container's or taskset's share),
    at least 1; ``os.cpu_count()`` where affinity is unknown."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
