"""The layout of ``results/``: where each set's arrays, each descriptor and each model's
files live. Rules, scripts and tools/ ask this module; no other one spells a path.

A model is named ``<family>/<name>`` (``knn/combo``, ``cnn/baseline``,
``ensemble/mean``) and owns the folder ``results/<family>/<name>/``.

Standard library only: Snakemake imports it at parse time. Every function takes
the results root (default ``results``) so that tools can point at another run's.
"""

from __future__ import annotations

from pathlib import Path

from deepfake import SPLITS
from deepfake.settings import FAMILIES, FILE_DESCRIPTORS, KNN_FEATURES

RESULTS = "results"
# The sets with arrays and descriptors: the three splits and the augmented training set.
SETS = (*SPLITS, "train_aug")

# Files of a model folder.
CARD = "model.json"  # what inference needs (deepfake.models; written by deepfake.io)
METRICS = "metrics.json"  # validation accuracy, choices, timings, versions
VAL_PROBA = "val_proba.npy"  # float32 (N, 5) of the validation split
TEST_PROBA = "test_proba.npy"  # the same for the test split
REPORT = "report.csv"  # per-class precision, recall, F1
CONFUSION = "confusion.png"
GRID = "grid.csv"  # knn: the (k, voting) grid or the combination's cross-validation
REFERENCE = "reference.npz"  # knn: the training rows as searched, and their labels
ESTIMATOR = "model.joblib"  # gbm: the fitted scikit-learn estimator
NETWORK = "model.keras"  # cnn
HISTORY = "history.csv"  # cnn: one row per epoch
TENSORBOARD = "tensorboard"  # cnn: a folder
# Files inference reads, by family (an ensemble's members add their own).
INFERENCE_FILES = {
    "knn": (CARD, REFERENCE),
    "gbm": (CARD, ESTIMATOR),
    "cnn": (CARD, NETWORK),
    "ensemble": (CARD,),
}


def arrays(set_name: str, root: str | Path = RESULTS) -> str:
    """A set's ingested (or augmented) images, ids and labels."""
    return f"{root}/arrays/{set_name}.npz"


def features(name: str, set_name: str, root: str | Path = RESULTS) -> str:
    """A descriptor of a set: hsv<bins>, jointhsv, spectrum, lbp."""
    return f"{root}/features/{name}/{set_name}.npy"


def model_dir(model: str, root: str | Path = RESULTS) -> str:
    """The folder of the model named ``family/name``."""
    return f"{root}/{model}"


def model_file(model: str, name: str, root: str | Path = RESULTS) -> str:
    """A file of a model's folder, e.g. ``model_file("knn/combo", VAL_PROBA)``."""
    return f"{model_dir(model, root)}/{name}"


def model_of(path: str | Path) -> str:
    """The model whose folder holds ``path``: ``results/cnn/baseline/val_proba.npy`` ->
    ``cnn/baseline``."""
    return "/".join(Path(path).parent.parts[-2:])


def results_root(folder: str | Path) -> Path:
    """The results root of a model folder (``results/knn/combo`` -> ``results``)."""
    return Path(folder).parent.parent


def family(model: str) -> str:
    return model.split("/")[0]


def summary(root: str | Path = RESULTS) -> str:
    return f"{root}/metrics/summary.csv"


def figure(name: str, root: str | Path = RESULTS) -> str:
    return f"{root}/figures/{name}"


def report_page(root: str | Path = RESULTS) -> str:
    """The landing page of ``snakemake --report`` (reStructuredText)."""
    return report_file("workflow.rst", root)


def report_file(name: str, root: str | Path = RESULTS) -> str:
    return f"{root}/report/{name}"


def submission(root: str | Path = RESULTS) -> str:
    return f"{root}/submission.csv"


def predictions(root: str | Path = RESULTS) -> str:
    return f"{root}/predictions.csv"


def duplicates(root: str | Path = RESULTS) -> str:
    return f"{root}/arrays/duplicates.txt"


def checkpoints(variant: str, root: str | Path = RESULTS) -> str:
    """Where a training job keeps its resumable state (outside its declared outputs)."""
    return f"{root}/.checkpoints/cnn/{variant}"


def _alternatives(names) -> str:
    return "|".join(names)


# Snakemake's wildcard constraints, built from the vocabularies (and tested against them).
WILDCARDS = {
    "split": _alternatives(SPLITS),
    "set": _alternatives(SETS),
    "bins": r"\d+",
    "features": _alternatives([r"hsv\d+" if f == "hsv" else f for f in KNN_FEATURES]),
    "descriptor": _alternatives([r"hsv\d+", *FILE_DESCRIPTORS]),
    "model": _alternatives(FAMILIES),
    "variant": r"[A-Za-z0-9_]+",
    "name": r"[A-Za-z0-9_]+",
    "group": r"[a-z_]+",
}
