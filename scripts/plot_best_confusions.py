"""Snakemake entry point: confusion matrices of the best model of each family."""

import numpy as np
import pandas as pd

from deepfake import layout
from deepfake.evaluate import confusion
from deepfake.plots import best_confusions, save
from deepfake.smk import run


def main(smk):
    summary = pd.read_csv(smk.input.summary)
    best = summary.groupby("model", sort=False).head(1)  # summary is sorted best first
    with np.load(smk.input.validation) as arrays:
        labels = arrays["labels"]
    probas = {layout.model_of(p): p for p in smk.input.val_proba}
    panels = {
        f"best {row.model} ({row.variant}, {row.val_accuracy:.1%})": confusion(
            labels, np.load(probas[f"{row.model}/{row.variant}"])
        )
        for row in best.itertuples()
    }
    save(best_confusions(panels), smk.output[0])


if __name__ == "__main__":
    run(main, snakemake)  # noqa: F821 (injected by Snakemake)
