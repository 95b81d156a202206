"""Entry-point glue shared by the Snakemake scripts."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from contextlib import redirect_stdout

from deepfake import THREAD_VARS


def limit_threads(threads: int) -> None:
    """Cap BLAS/OpenMP/OpenCV thread pools at the rule's ``threads``.

    The environment variables reach only libraries loaded later (and child
    processes): ``deepfake/__init__.py`` sets them in a Snakemake job before numpy
    loads, and the pools already loaded are capped here through threadpoolctl.
    """
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    import cv2

    cv2.setNumThreads(threads)
    try:
        from threadpoolctl import threadpool_limits  # scikit-learn's dependency
    except ImportError:
        return
    threadpool_limits(threads)


def run(main: Callable[[object], None], smk: object) -> None:
    """Run ``main(smk)`` with logging, warnings and stray prints sent to the rule's log.

    An exception is logged with its message and re-raised so the job fails and
    Snakemake removes its partial outputs.
    """
    log_path = smk.log[0] if smk.log else None
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.captureWarnings(True)
    limit_threads(max(1, int(getattr(smk, "threads", 1) or 1)))
    stdout = handlers[-1].stream if log_path else sys.stdout
    try:
        with redirect_stdout(stdout):
            main(smk)
    except Exception as exc:
        logging.getLogger(main.__module__).error("%s: %s", type(exc).__name__, exc)
        raise
    finally:
        stdout.flush()
