"""The one job of every family on the file-level descriptors (rule file
``rules/model.smk``, script ``scripts/model.py``): load the sets, ask the family's
model class to fit, then what every such family shares, once: the temperature (fitted
on the held-out images, if any), the model folder, the calibrated probabilities and
the metrics record.

A family provides ``fit_sets(sets, job) -> Fitted`` on its model class
(:class:`deepfake.descriptor_model.Job`, :class:`~deepfake.descriptor_model.Fitted`);
its record in :data:`deepfake.families.FAMILIES` says what the job reads and uses.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from deepfake.descriptor_model import Fitted, Job, LoadedSet
from deepfake.descriptors import descriptor
from deepfake.io import save_csv, save_json
from deepfake.layout import output_name
from deepfake.metrics import metrics_record
from deepfake.probabilities import calibrated, save_probabilities, sets_of
from deepfake.settings import IMAGE_DESCRIPTORS


def _files(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def load_set(inputs, name: str, descriptors: Sequence[str]) -> LoadedSet:
    """The set ``name``'s descriptor groups, in the order of ``descriptors`` (a file of
    the descriptor rules each, ``<name>_descriptors``; pixels from the images of
    ``<name>_arrays``), and its labels."""
    files = iter(_files(inputs.get(f"{name}_descriptors", [])))
    with np.load(getattr(inputs, f"{name}_arrays")) as arrays:
        labels = arrays["labels"]
        groups = [
            descriptor(d, arrays["images"]) if d in IMAGE_DESCRIPTORS else np.load(next(files))
            for d in descriptors
        ]
    return LoadedSet(groups, labels)


def load_sets(inputs, descriptors: Sequence[str]) -> dict[str, LoadedSet]:
    """Every set among the job's inputs: train, validation, test and, when the run holds
    images out, holdout."""
    return {name: load_set(inputs, name, descriptors) for name in sets_of(inputs)}


def write_file(path: str, content) -> None:
    """One extra file of a model folder: a DataFrame as CSV, a dict as JSON."""
    if path.endswith(".csv"):
        save_csv(path, content)
    elif path.endswith(".json"):
        save_json(path, content)
    else:
        raise ValueError(f"{path}: a family's extra file is a .csv or a .json")


def finish(
    family,
    job: Job,
    fitted: Fitted,
    sets: Mapping[str, LoadedSet],
    fit_seconds: float,
    output,
    data: Mapping,
) -> dict:
    """What every family's job does after its fit: calibrate (on the held-out set, if
    any), save the folder and its extra files, write the calibrated probabilities and
    the metrics record. Returns the record."""
    model = fitted.model
    raw = {n: model.proba_from_descriptors(s.groups) for n, s in sets.items() if n != "train"}
    temperature, proba, calibration = calibrated(raw, {n: s.labels for n, s in sets.items()})
    if set(fitted.files) != set(family.outputs):
        raise ValueError(
            f"{family.name}'s fit wrote {sorted(fitted.files)}; its record declares "
            f"{sorted(family.outputs)}"
        )
    model.save(Path(output.card).parent, data=data, temperature=temperature)
    for file, content in fitted.files.items():
        write_file(getattr(output, output_name(file)), content)
    save_probabilities(output, proba)
    metrics = metrics_record(
        family.name,
        job.name,
        inputs=fitted.inputs or "+".join(job.descriptors),
        protocol=fitted.protocol,
        val_proba=proba["validation"],
        val_labels=sets["validation"].labels,
        n_train=len(sets["train"].labels),
        n_test=len(proba["test"]),
        train_seconds=fit_seconds,
        data=data,
        params=job.settings,
        calibration=calibration,
        **fitted.metrics,
    )
    save_json(output.metrics, metrics)
    return metrics


def run_job(smk, family) -> dict:
    """The model job of ``family`` (a record of :data:`deepfake.families.FAMILIES`) on
    Snakemake's ``smk``: load, fit, then :func:`finish`. Returns the metrics record."""
    job = Job(
        str(smk.wildcards.name),
        tuple(smk.params.descriptors),
        smk.params.settings,
        int(smk.threads),
    )
    sets = load_sets(smk.input, job.descriptors)
    start = time.perf_counter()
    fitted = family.model_class().fit_sets(sets, job)
    fit_seconds = time.perf_counter() - start  # the fit and its choices
    metrics = finish(family, job, fitted, sets, fit_seconds, smk.output, smk.params.data)
    logging.info(
        "%s/%s: validation accuracy %.4f (fit %.1f s)",
        family.name,
        job.name,
        metrics["val_accuracy"],
        fit_seconds,
    )
    return metrics
