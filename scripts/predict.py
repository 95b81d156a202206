"""Snakemake entry point: attribute every image of a folder with a trained model."""

import logging
from pathlib import Path

import pandas as pd

from deepfake.io import save_csv
from deepfake.predict import choose_model, model_proba, predictions_table, read_images
from deepfake.smk import run


def main(smk):
    model = choose_model(pd.read_csv(smk.input.summary), str(smk.params.model))
    new = read_images(smk.input.folder)
    logging.info(
        "%d files in %s, %d decoded; model %s",
        len(new.names),
        smk.input.folder,
        new.decoded.sum(),
        model,
    )
    if not model.startswith("knn/"):  # threads and determinism before keras loads
        from deepfake.backend import configure

        configure(threads=int(smk.threads), deterministic=True, backend=str(smk.params.backend))
    table = predictions_table(
        new, model_proba(model, new.images, Path(smk.input.summary).parents[1]), model
    )
    save_csv(smk.output[0], table, float_format="%.6f")
    skipped = len(new.names) - int(new.decoded.sum())
    logging.info("%d predictions written, %d file(s) skipped (see error)", len(table), skipped)


if __name__ == "__main__":
    run(main, snakemake)  # noqa: F821 (injected by Snakemake)
