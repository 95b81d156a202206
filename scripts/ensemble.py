"""Snakemake entry point: the equal-weight mean of the members' probabilities, as a model
folder (model.json lists the members) with its validation and test probabilities."""

import json
import logging
from pathlib import Path

import numpy as np

from deepfake import layout
from deepfake.ensemble import EnsembleModel, members_record
from deepfake.io import save_json, save_npy
from deepfake.metrics import metrics_record
from deepfake.smk import job_from_argv, run


def load_members(paths, members) -> dict:
    """Member name -> array, in the configured order; a missing member is an error."""
    by_name = {layout.model_of(p): p for p in paths}
    missing = [m for m in members if m not in by_name]
    if missing:
        raise ValueError(f"no probabilities for ensemble members {missing} among {list(by_name)}")
    return {m: np.load(by_name[m]) for m in members}


def main(smk):
    members = list(smk.params.members)
    val = load_members(smk.input.val_proba, members)
    test = load_members(smk.input.test_proba, members)
    metrics = {layout.model_of(p): json.loads(Path(p).read_text()) for p in smk.input.metrics}
    with np.load(smk.input.validation) as arrays:
        labels = arrays["labels"]
    val_proba, test_proba = EnsembleModel.combine(val), EnsembleModel.combine(test)
    from_members = members_record(members, metrics)
    result = metrics_record(
        "ensemble",
        str(smk.params.name),
        val_proba=val_proba,
        val_labels=labels,
        n_test=len(test_proba),
        params={"members": members},
        members=members,
        **from_members,
    )
    EnsembleModel.save(Path(smk.output.card).parent, members, from_members["data"])
    save_npy(smk.output.val_proba, val_proba)
    save_npy(smk.output.test_proba, test_proba)
    save_json(smk.output.metrics, result)
    for m in members:
        logging.info("member %s: val_accuracy %.4f", m, result["member_val_accuracy"][m])
    logging.info("ensemble of %d: val_accuracy %.4f", len(members), result["val_accuracy"])


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("ensemble"))  # noqa: F821
