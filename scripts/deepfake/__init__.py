"""Deepfake attribution: which of five generators produced an image.

Pure, importable functions; the files in ``scripts/*.py`` are thin Snakemake
entry points over them.
"""

N_CLASSES = 5
IMAGE_SIZE = 100
SPLITS = ("train", "validation", "test")


def _cap_threads_of_snakemake_job() -> None:
    """In a Snakemake script job, set the thread variables to the rule's ``threads``
    now, before this package's modules import numpy (a later setting has no effect
    on numpy's BLAS). Snakemake puts the job's ``snakemake`` object in ``__main__``."""
    import sys

    from deepfake.threads import cap_environment

    threads = getattr(getattr(sys.modules.get("__main__"), "snakemake", None), "threads", None)
    if isinstance(threads, int) and threads > 0:
        cap_environment(threads)


_cap_threads_of_snakemake_job()
