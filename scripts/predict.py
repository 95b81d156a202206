"""Snakemake entry point: attribute every image of a folder with a trained model."""

import logging

from deepfake.smk import job_from_argv, run


def main(smk):
    model_dir = str(smk.params.model_dir)
    from deepfake.families import read_card

    card = read_card(model_dir)
    if card["kind"] != "knn":  # threads and determinism before keras loads
        from deepfake.backend import configure

        configure(threads=int(smk.threads), deterministic=True, backend=str(smk.params.backend))
    from deepfake.families import load
    from deepfake.predict import predict_folder, warning_of

    model = load(model_dir, threads=int(smk.threads))
    name = str(smk.params.model)
    logging.info("model %s, folder %s", name, smk.input.folder)
    if warning := warning_of(card):
        logging.warning("%s: %s", name, warning)
    counts = predict_folder(
        model, name, smk.input.folder, smk.output[0], threads=int(smk.threads), warning=warning
    )
    logging.info(
        "%d predictions written, %d file(s) not decodable (see error)",
        counts["files"],
        counts["failed"],
    )


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("predict"))  # noqa: F821
