"""Snakemake entry point of every family on the file-level descriptors (rule file
rules/model.smk, one rule per family, named after it): the family's fit on the loaded
sets, then its model folder with its temperature (fitted on the held-out images, if
any), its calibrated probabilities and its metrics record (deepfake.model_job).

Alone, the first argument names the family (its rule), then the wildcards:
``python scripts/model.py knn name=hsv16``."""

import sys

from deepfake.families import FAMILIES, descriptor_families
from deepfake.model_job import run_job
from deepfake.smk import job_from_argv, run


def main(smk):
    run_job(smk, FAMILIES[smk.params.family])


def job_alone(argv: list[str]):
    """The job of the family named first on the command line (its rule's)."""
    rules = {f.name: f.rule for f in descriptor_families()}
    if not argv or argv[0] not in rules:
        sys.exit(f"usage: scripts/model.py {{{','.join(rules)}}} name=NAME [options]")
    return job_from_argv(rules[argv[0]], argv[1:])


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_alone(sys.argv[1:]))  # noqa: F821
