"""Snakemake entry point: learning curves of one ablation group, variants overlaid."""

import pandas as pd

from deepfake.plots import learning_curves, save
from deepfake.smk import run


def main(smk):
    histories = {
        v: pd.read_csv(p) for v, p in zip(smk.params.variants, smk.input.histories, strict=True)
    }
    save(learning_curves(histories, f"ablation of {smk.wildcards.group}"), smk.output[0])


if __name__ == "__main__":
    run(main, snakemake)  # noqa: F821 (injected by Snakemake)
