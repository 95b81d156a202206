"""Snakemake entry point: confusion matrices of the best model of each family."""

import numpy as np
import pandas as pd

from deepfake import layout
from deepfake.evaluate import confusion
from deepfake.plots import best_confusions, save
from deepfake.smk import job_from_argv, run


def main(smk):
    summary = pd.read_csv(smk.input.summary)
    best = summary.groupby("family", sort=False).head(1)  # summary is sorted best first
    with np.load(smk.input.validation) as arrays:
        labels = arrays["labels"]
    probas = {layout.model_of(p): p for p in smk.input.val_proba}
    panels = {
        f"best {row.family} ({row.model}, {row.val_accuracy:.1%})": confusion(
            labels, np.load(probas[row.model])
        )
        for row in best.itertuples()
    }
    save(best_confusions(panels), smk.output[0], demo=smk.params.demo)


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("best_confusions"))  # noqa: F821
