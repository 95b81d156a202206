"""Snakemake entry point: learning curves of one ablation group, variants overlaid."""

import pandas as pd

from deepfake.plots import learning_curves, save
from deepfake.smk import job_from_argv, run


def main(smk):
    histories = {
        v: pd.read_csv(p) for v, p in zip(smk.params.variants, smk.input.histories, strict=True)
    }
    figure = learning_curves(histories, f"ablation of {smk.wildcards.group}")
    save(figure, smk.output[0], demo=smk.params.demo)


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("learning_curves"))  # noqa: F821
