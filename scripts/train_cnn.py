"""Snakemake entry point: train one CNN variant, then predict validation and test.

Outputs: model.keras, history.csv, tensorboard/ (written by deepfake.train),
val_proba.npy, test_proba.npy (float32 (N, 5)) and metrics.json. A killed job
resumes from its last completed epoch (checkpoint in ``params.work_dir``); the
checkpoint is deleted once every output is written.

(No ``from __future__`` import: Snakemake puts its preamble above the script.)
"""

import logging
from pathlib import Path

from deepfake.smk import run

log = logging.getLogger("train_cnn")


def load_split(arrays_path: str, hist_path: str) -> dict:
    import numpy as np

    from deepfake.io import load_arrays

    arrays = load_arrays(arrays_path)
    hist = np.load(hist_path).astype(np.float32, copy=False)
    if len(hist) != len(arrays["labels"]):
        raise ValueError(f"{hist_path}: {len(hist)} rows for {len(arrays['labels'])} images")
    return {
        "image": arrays["images"],
        "hist": hist,
        "label": arrays["labels"],
        "ids": arrays["ids"],
    }


def main(smk) -> None:
    # Threads and determinism must be set before keras is imported.
    from deepfake.backend import configure

    configure(threads=int(smk.threads), deterministic=True, backend=str(smk.params.backend))

    from deepfake.io import save_json, save_npy
    from deepfake.train import predict_proba, train_cnn

    params = dict(smk.params.cnn)
    variant = str(smk.params.variant)
    out = smk.output
    out_dir = Path(out.model).parent
    expected = {
        "history": out_dir / "history.csv",
        "tensorboard": out_dir / "tensorboard",
    }
    for name, path in expected.items():  # train_cnn writes these beside the model
        if Path(getattr(out, name)) != path:
            raise ValueError(f"output {name} must be {path}, got {getattr(out, name)}")

    train = load_split(smk.input.train, smk.input.train_hist)
    val = load_split(smk.input.val, smk.input.val_hist)
    test = load_split(smk.input.test, smk.input.test_hist)
    log.info("variant %s, params %s", variant, params)

    result = train_cnn(train, val, params, out_dir, smk.params.work_dir, log=log, cleanup=False)
    save_npy(out.val_proba, result.val_proba)
    save_npy(out.test_proba, predict_proba(result.model, test))
    metrics = {
        "model": "cnn",
        "variant": variant,
        "features": f"image+hsv{int(params['bins'])}",
        **result.summary,
        "n_test": len(test["label"]),
        "params": params,
    }
    save_json(out.metrics, metrics)
    result.remove_checkpoint()
    log.info("variant %s done: val_accuracy %.4f", variant, metrics["val_accuracy"])


if __name__ == "__main__":
    run(main, snakemake)  # noqa: F821 (injected by Snakemake)
