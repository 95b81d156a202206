"""Snakemake entry point: the members' probabilities combined (ensemble.combine: their
mean or geometric mean), as a model folder (model.json lists the members) with its
temperature (fitted on the held-out images, if any) and its calibrated probabilities."""

import json
import logging
from pathlib import Path

import numpy as np

from deepfake import layout
from deepfake.ensemble import EnsembleModel, combine, members_record
from deepfake.io import save_json
from deepfake.metrics import metrics_record
from deepfake.probabilities import calibrated, save_probabilities
from deepfake.smk import job_from_argv, run


def load_members(paths, members) -> dict:
    """Member name -> array, in the configured order; a missing member is an error."""
    by_name = {layout.model_of(p): p for p in paths}
    missing = [m for m in members if m not in by_name]
    if missing:
        raise ValueError(f"no probabilities for ensemble members {missing} among {list(by_name)}")
    return {m: np.load(by_name[m]) for m in members}


def labels_of(path: str) -> np.ndarray:
    with np.load(path) as arrays:
        return arrays["labels"]


def main(smk):
    members, how = list(smk.params.members), str(smk.params.combine)
    sets = {"validation": smk.input.val_proba, "test": smk.input.test_proba}
    labels = {"validation": labels_of(smk.input.validation)}
    if "holdout" in smk.input.keys():
        sets["holdout"] = smk.input.holdout_proba
        labels["holdout"] = labels_of(smk.input.holdout)
    raw = {name: combine(load_members(paths, members), how) for name, paths in sets.items()}
    temperature, proba, calibration = calibrated(raw, labels)
    metrics = {layout.model_of(p): json.loads(Path(p).read_text()) for p in smk.input.metrics}
    from_members = members_record(members, metrics)
    result = metrics_record(
        "ensemble",
        str(smk.params.name),
        val_proba=proba["validation"],
        val_labels=labels["validation"],
        n_test=len(proba["test"]),
        params={"members": members, "combine": how},
        calibration=calibration,
        members=members,
        **from_members,
    )
    EnsembleModel.save(
        Path(smk.output.card).parent,
        members,
        how,
        data=from_members["data"],
        temperature=temperature,
    )
    save_probabilities(smk.output, proba)
    save_json(smk.output.metrics, result)
    for m in members:
        logging.info("member %s: val_accuracy %.4f", m, result["member_val_accuracy"][m])
    logging.info("ensemble of %d: val_accuracy %.4f", len(members), result["val_accuracy"])


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("ensemble"))  # noqa: F821
