"""Thread caps: how many threads the numerical libraries of one job may use.

One home for the list of variables and the two moments a cap can act:
:func:`cap_environment` before a library loads (the variables are read once, when
it starts), :func:`cap_loaded_pools` for the pools already running. Standard
library only at import time.
"""

from __future__ import annotations

import os

# Read when a library starts: OpenMP (numpy's BLAS, scikit-learn, oneDNN), OpenBLAS,
# MKL, TensorFlow's intra-op pool. TensorFlow's inter-op pool is capped at 2.
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
)
INTEROP_VAR = "TF_NUM_INTEROP_THREADS"
# OpenMP threads that wait for work sleep instead of spinning (unless the environment
# says otherwise): Snakemake runs jobs side by side, and a spinning thread takes the
# core a neighbour needs. The gradient-boosted trees on the demo's descriptors (1,000 x
# 1,212, 300 rounds, 2 threads, 2-core Xeon): alone 11.1 s spinning, 11.7 s passive;
# beside two busy processes over 38 s spinning, 20.4 s passive.
WAIT_POLICY = ("OMP_WAIT_POLICY", "PASSIVE")


def cap_environment(threads: int) -> int:
    """Set every thread variable to ``threads`` (at least 1), and OpenMP's waiting to
    :data:`WAIT_POLICY` where unset, for the libraries not loaded yet and for child
    processes; returns the cap."""
    threads = max(1, int(threads))
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    os.environ.setdefault(*WAIT_POLICY)
    # Independent ops (the input pipeline's, the optimizer's) may overlap, but no more
    # than the cores there are.
    os.environ[INTEROP_VAR] = str(min(2, threads))
    return threads


def cap_loaded_pools(threads: int) -> None:
    """Cap the pools already loaded: OpenCV's, and numpy's BLAS and OpenMP through
    threadpoolctl (scikit-learn's dependency; skipped where absent)."""
    import cv2

    cv2.setNumThreads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(threads)


def cap(threads: int) -> int:
    """Both: the environment, then the loaded pools."""
    threads = cap_environment(threads)
    cap_loaded_pools(threads)
    return threads
