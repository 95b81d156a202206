"""Snakemake entry point: train one CNN variant, then predict validation and test.

Writes every declared output: the model folder (model.keras and model.json),
history.csv, tensorboard/, val_proba.npy, test_proba.npy (float32 (N, 5),
averaged over the variant's test-time transforms ``tta``, through the saved
model's own inference) and metrics.json. Inputs train_freq, val_freq and
test_freq (frequency fingerprints, float32 (N, D)), when the rule declares
them, become the model's third input. A killed job resumes from its last
completed epoch (checkpoint in ``params.work_dir``); the checkpoint is deleted
once every output is written.

(No ``from __future__`` import: Snakemake puts its preamble above the script.)
"""

import logging
from pathlib import Path

from deepfake.smk import job_from_argv, run

log = logging.getLogger("train_cnn")


def load_split(arrays_path: str, hist_path: str, freq_paths=None) -> dict:
    """A set's arrays, its histograms (``hist``) and, given ``freq_paths`` (one path or a
    list), its fingerprint descriptors side by side (``freq``)."""
    import numpy as np

    from deepfake.cnn_model import fingerprint_rows
    from deepfake.io import load_arrays

    arrays = load_arrays(arrays_path)
    n = len(arrays["labels"])
    split = {"image": arrays["images"], "label": arrays["labels"], "ids": arrays["ids"]}
    if isinstance(freq_paths, str):
        freq_paths = [freq_paths]
    groups = {"hist": [hist_path], "freq": list(freq_paths or [])}
    for name, paths in groups.items():
        values = []
        for path in paths:
            rows = np.load(path)
            if rows.ndim != 2 or len(rows) != n:
                raise ValueError(f"{path}: shape {rows.shape}, expected ({n}, D) for {arrays_path}")
            values.append(rows)
        if values:
            split[name] = (
                fingerprint_rows(values)
                if name == "freq"
                else values[0].astype(np.float32, copy=False)
            )
    return split


def _optional(named, name: str) -> str | None:
    """An input path by name, or None when the rule does not declare it."""
    return getattr(named, name) if name in named.keys() else None


def main(smk) -> None:
    from deepfake.settings import TrainSettings

    settings = TrainSettings.from_params(smk.params.cnn)
    # Threads and determinism must be set before keras is imported.
    from deepfake.backend import configure

    configure(
        threads=int(smk.threads),
        deterministic=True,
        backend=str(smk.params.backend),
        jit_compile=settings.jit_compile,
        mixed_precision=settings.mixed_precision,
    )

    from deepfake.io import save_json
    from deepfake.metrics import metrics_record
    from deepfake.probabilities import calibrated, save_probabilities
    from deepfake.train import check_split, n_freq_of, train_cnn

    variant = str(smk.params.variant)
    inp, out = smk.input, smk.output
    names = [n for n in ("train", "val", "test", "holdout") if n in inp.keys()]
    splits = {
        name: load_split(
            getattr(inp, name), getattr(inp, f"{name}_hist"), _optional(inp, f"{name}_freq")
        )
        for name in names
    }
    train, val = splits["train"], splits["val"]
    n_freq = n_freq_of(train)
    for name in names[2:]:
        check_split(f"{name} ({getattr(inp, name)})", splits[name], settings.n_hist, n_freq)
    log.info("variant %s, settings %s", variant, settings)

    result = train_cnn(train, val, settings, None, smk.params.work_dir, log=log, cleanup=False)
    sets = {"validation": "val", "test": "test", "holdout": "holdout"}
    raw = {s: result.model.proba_from_inputs(splits[n]) for s, n in sets.items() if n in splits}
    labels = {s: splits[n]["label"] for s, n in sets.items() if n in splits}
    temperature, proba, calibration = calibrated(raw, labels)
    result.write_outputs(Path(out.card).parent, data=smk.params.data, temperature=temperature)
    save_probabilities(out, proba)
    summary = dict(result.summary)
    metrics = metrics_record(
        "cnn",
        variant,
        inputs="+".join(["image", f"hsv{settings.bins}", *settings.fingerprint]),
        protocol=summary.pop("protocol"),
        val_proba=proba["validation"],
        val_labels=val["label"],
        n_train=summary.pop("n_train"),
        n_test=len(proba["test"]),
        train_seconds=summary.pop("train_seconds"),
        train_pflop=summary.pop("train_pflop"),
        data=smk.params.data,
        params=settings.as_params(),
        calibration=calibration,
        backend=summary.pop("backend"),
        **{k: v for k, v in summary.items() if k not in ("val_accuracy", "n_val")},
    )
    save_json(out.metrics, metrics)
    result.remove_checkpoint()
    log.info("variant %s done: val_accuracy %.4f", variant, metrics["val_accuracy"])


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("train_cnn"))  # noqa: F821
