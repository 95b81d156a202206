"""Config helpers shared by ``rules/common.smk`` and the tools: which models a run
trains, key-order-free params, the model rule predict uses, and a cheap manifest of
a data folder. (A CNN variant's settings: :class:`deepfake.settings.TrainSettings`.)

Imported by Snakemake at parse time: standard library only (no numpy), so a dry
run stays fast.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from deepfake import layout
from deepfake.settings import FAMILIES


def normalised(value):
    """``value`` with every dict's keys sorted, recursively.

    Snakemake compares a job's params by their repr, so two dicts with the same
    items in another order would look changed; sorted dicts never do.
    """
    if isinstance(value, Mapping):
        return {key: normalised(value[key]) for key in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [normalised(v) for v in value]
    return value


def trained_variants(config: Mapping) -> list[str]:
    """The variants to train: ``cnn.train`` (default: every variant), in config order."""
    variants = list(config["cnn"]["variants"])
    chosen = config["cnn"].get("train", "all")
    if chosen == "all" or chosen is None:
        return variants
    unknown = [v for v in chosen if v not in variants]
    if unknown:
        raise ValueError(f"cnn.train names unknown variant(s) {unknown}; configured: {variants}")
    return [v for v in variants if v in chosen]


def descriptor_name(config: Mapping, name: str) -> str:
    """A configured KNN descriptor as its output folder: hsv -> hsv<histogram_bins>."""
    return f"hsv{config['histogram_bins']}" if name == "hsv" else name


def knn_feature_sets(config: Mapping) -> list[str]:
    """KNN descriptors, named as their output folders: hsv<bins>, pixels, jointhsv,
    spectrum, lbp, combo."""
    return [descriptor_name(config, f) for f in config["knn"]["features"]]


def gbm_models(config: Mapping) -> list[str]:
    """The gradient-boosted model, when ``gbm.descriptors`` names any."""
    gbm = config.get("gbm") or {}
    return [f"gbm/{gbm.get('name', 'fingerprints')}"] if gbm.get("descriptors") else []


def trained_models(config: Mapping) -> list[str]:
    """Every trained model, as the results/ sub-folder holding its predictions."""
    knn = [f"knn/{f}" for f in knn_feature_sets(config)]
    return knn + gbm_models(config) + [f"cnn/{v}" for v in trained_variants(config)]


def ensemble_members(config: Mapping) -> list[str]:
    """The ensemble's members (default: every trained CNN variant); [] when fewer than
    two. Any trained model may be listed, KNN ones included."""
    members = config.get("ensemble", {}).get("members")
    if members is None:
        members = [f"cnn/{v}" for v in trained_variants(config)]
    unknown = sorted(set(members) - set(trained_models(config)))
    if unknown:
        raise ValueError(
            f"config ensemble.members: {unknown} are not models of this run "
            f"(choose from {trained_models(config)})"
        )
    return list(members) if len(members) >= 2 else []


def ensemble_name(config: Mapping) -> str:
    return config.get("ensemble", {}).get("name", "mean")


def models(config: Mapping) -> list[str]:
    """Every model of the run with predictions: the trained ones, then the ensemble."""
    ensemble = [f"ensemble/{ensemble_name(config)}"] if ensemble_members(config) else []
    return trained_models(config) + ensemble


def inference_files(config: Mapping, model: str) -> list[str]:
    """The files a model's inference reads: its folder's, and an ensemble's members'."""
    files = [
        layout.model_file(model, name) for name in layout.INFERENCE_FILES[layout.family(model)]
    ]
    if layout.family(model) == "ensemble":
        for member in ensemble_members(config):
            files += inference_files(config, member)
    return files


def check_predict_model(config: Mapping) -> None:
    """Refuse a ``predict_model`` that names no model of this run (listing them)."""
    wanted = str(config.get("predict_model", "best"))
    run = models(config)
    if wanted == "best" or wanted in run or any(m.split("/")[0] == wanted for m in run):
        return
    kind = "family" if wanted in FAMILIES else "model"
    raise ValueError(
        f"config predict_model: {wanted!r} is no {kind} of this run; trained: {run} "
        f"(or best, or a family: {', '.join(FAMILIES)})"
    )


def choose_model(summary_csv: str | os.PathLike, wanted: str) -> str:
    """The summary row rule predict uses: ``best`` (the first row), a family (its best
    row) or ``family/name``; an unknown name is an error listing the rows."""
    with open(summary_csv, newline="", encoding="utf-8") as handle:
        names = [f"{row['model']}/{row['variant']}" for row in csv.DictReader(handle)]
    if wanted == "best" and names:
        return names[0]
    matches = [n for n in names if n == wanted or n.split("/")[0] == wanted]
    if not matches:
        raise ValueError(f"predict_model {wanted!r} is not a row of {summary_csv}: {names}")
    return matches[0]


def check_has_model(config: Mapping) -> None:
    """Refuse a config that trains nothing (no KNN descriptor, no gbm, no CNN variant)."""
    if not trained_models(config):
        raise ValueError(
            "the config trains no model: knn.features and gbm.descriptors are empty and no "
            "CNN variant is trained (cnn.variants / cnn.train); set at least one of them"
        )


def typed_cli_values(value):
    """Nested ``--config`` values as YAML types.

    Snakemake parses ``--config knn='{k: [3, 5]}'`` with YAML's BaseLoader, which
    keeps every scalar a string (``'3'``); reading each string leaf again as YAML
    gives the types an overlay file would have.
    """
    if isinstance(value, Mapping):
        return {key: typed_cli_values(v) for key, v in value.items()}
    if isinstance(value, list):
        return [typed_cli_values(v) for v in value]
    if isinstance(value, str):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    return value


def merge(base: dict, overrides: Mapping) -> None:
    """Merge ``overrides`` into ``base`` key by key (as ``--configfile`` does)."""
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value


def folder_manifest(folder: str | os.PathLike) -> str:
    """A short fingerprint of a folder's visible files: names, sizes, mtimes.

    One ``stat`` per file (symbolic links followed), no reading: a file replaced
    in place changes it, and 20,000 files take milliseconds.
    """
    digest = hashlib.sha1()
    count = 0
    with os.scandir(folder) as entries:
        rows = sorted(
            (entry.name, entry.stat()) for entry in entries if not entry.name.startswith(".")
        )
    for name, stat in rows:
        digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        count += 1
    return f"{count} files, sha1 {digest.hexdigest()[:16]}"


_IMPORT = re.compile(r"^\s*(?:from|import)\s+deepfake(?:\.(\w+))?\b", re.MULTILINE)
# `from deepfake import layout, SPLITS`: the modules among the names
_FROM_PACKAGE = re.compile(
    r"^\s*from\s+deepfake\s+import\s+(?:\(([\w\s,]+)\)|([\w ,]+))", re.MULTILINE
)


def package_modules(script: str | os.PathLike) -> list[str]:
    """The ``deepfake/*.py`` files that ``script`` imports, directly or through other
    modules of the package (lazy imports inside functions included), sorted.

    Declared as a rule's inputs, so that editing a module reruns exactly the rules
    whose code uses it (Snakemake tracks the ``script:`` file only).
    """
    script = Path(script)
    package = script.parent / "deepfake" if script.parent.name != "deepfake" else script.parent
    seen = {package / "__init__.py"}
    todo = [script]
    while todo:
        text = todo.pop().read_text()
        names = _IMPORT.findall(text)
        for groups in _FROM_PACKAGE.findall(text):
            names += [n.strip() for n in "".join(groups).split(",")]
        for name in names:
            path = package / f"{name or '__init__'}.py"
            if path not in seen and path.exists():
                seen.add(path)
                todo.append(path)
    return sorted(str(p) for p in seen)


def check_disjoint(train_csv, other_csvs) -> None:
    """Stop when an image_id of the training split is also listed by another split's
    CSV (leakage: it would inflate every validation figure), naming both rows.

    Validation and test may share ids: a dev split made by ``tools/make_split.py``
    lists its validation images as the (unlabelled) test split on purpose, so its
    submission can be scored. Standard library only: run at start-up, before any
    job, on every CSV that exists.
    """
    train_rows = dict(_csv_ids(Path(train_csv)))
    for csv_path in map(Path, other_csvs):
        for image_id, row in _csv_ids(csv_path):
            if image_id in train_rows:
                raise ValueError(
                    f"image_id {image_id!r} is in two splits: {train_csv}, row "
                    f"{train_rows[image_id]} and {csv_path}, row {row} "
                    "(leakage: remove it from one of them)"
                )


def _csv_ids(csv_path: Path):
    """(image_id, 1-based row) of a split's CSV, header skipped; nothing if absent."""
    if not csv_path.is_file():
        return
    with open(csv_path, newline="", encoding="utf-8", errors="replace") as handle:
        for row, fields in enumerate(csv.reader(handle), start=1):
            if row > 1 and fields:
                yield fields[0].strip(), row
