"""Snakemake entry point: the recall of every class for every model, in one figure."""

import pandas as pd

from deepfake.plots import class_recall, save
from deepfake.smk import run


def main(smk):
    save(class_recall(pd.read_csv(smk.input.summary)), smk.output[0])


if __name__ == "__main__":
    run(main, snakemake)  # noqa: F821 (injected by Snakemake)
