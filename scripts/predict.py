"""Snakemake entry point: attribute every image of a folder with a trained model."""

import logging

from deepfake import layout
from deepfake.smk import run


def main(smk):
    model_name = str(smk.params.model)
    if layout.family(model_name) != "knn":  # threads and determinism before keras loads
        from deepfake.backend import configure

        configure(threads=int(smk.threads), deterministic=True, backend=str(smk.params.backend))
    from deepfake.models import load
    from deepfake.predict import predict_folder

    model = load(layout.model_dir(model_name), threads=int(smk.threads))
    logging.info("model %s, folder %s", model_name, smk.input.folder)
    counts = predict_folder(
        model, model_name, smk.input.folder, smk.output[0], threads=int(smk.threads)
    )
    logging.info(
        "%d predictions written, %d file(s) not decodable (see error)",
        counts["files"],
        counts["failed"],
    )


if __name__ == "__main__":
    run(main, snakemake)  # noqa: F821 (injected by Snakemake)
