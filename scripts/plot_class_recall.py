"""Snakemake entry point: the recall of every class for every model, in one figure."""

import pandas as pd

from deepfake.plots import class_recall, save
from deepfake.smk import job_from_argv, run


def main(smk):
    save(class_recall(pd.read_csv(smk.input.summary)), smk.output[0], demo=smk.params.demo)


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("class_recall"))  # noqa: F821
