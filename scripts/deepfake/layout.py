"""The layout of a run's folder (``results_dir``, default ``results/``): where each set's
arrays, each descriptor, each model's files, the logs and the benchmarks live. Rules,
scripts and tools ask :class:`Layout`; no other module spells a path.

A model is named ``<family>/<name>`` (``knn/combo``, ``cnn/baseline``,
``ensemble/mean``) and owns the folder ``<results_dir>/<family>/<name>/``. Everything a
run writes lies under its ``results_dir``, so runs on other data or configs live side
by side (``--config results_dir=results/real``).

Standard library only: Snakemake imports it at parse time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deepfake import SPLITS

__all__ = ["SPLITS", "SETS", "Layout"]

RESULTS = "results"
# The sets with arrays and descriptors: the three splits, the augmented training set,
# with refit the training and validation images as one set (trainval) and, when
# calibration holds images out, the training set's two parts: fit (what the models
# train on) and holdout (what their temperatures are fitted on).
SETS = (*SPLITS, "train_aug", "trainval", "fit", "holdout")

# Files of a model folder.
CARD = "model.json"  # what inference needs (deepfake.families.load; written by deepfake.io)
METRICS = "metrics.json"  # the metrics record (deepfake.metrics)
VAL_PROBA = "val_proba.npy"  # float32 (N, 5) of the validation split
TEST_PROBA = "test_proba.npy"  # the same for the test split
HOLDOUT_PROBA = "holdout_proba.npy"  # the same for the held-out training images (or empty)
REPORT = "report.csv"  # per-class precision, recall, F1
CONFUSION = "confusion.png"
GRID = "grid.csv"  # knn: the (k, voting) grid or the combination's cross-validation
REFERENCE = "reference.npz"  # knn: the training rows as searched, and their labels
TREES = "trees.npz"  # gbm: the boosted trees as plain arrays (deepfake.gbm_model.Forest)
NETWORK = "model.keras"  # cnn
HISTORY = "history.csv"  # cnn: one row per epoch
TENSORBOARD = "tensorboard"  # cnn: a folder
UNKNOWNS = "unknowns.npz"  # the unknown-image detector (a run's, or a shipped model's)


@dataclass(frozen=True)
class Layout:
    """The paths of one run, under ``root`` (the config's ``results_dir``)."""

    root: str = RESULTS

    def demo(self) -> str:
        """The generated demo data set, in the competition's layout."""
        return f"{self.root}/demo"

    def arrays(self, set_name: str) -> str:
        """A set's ingested (or augmented) images, ids and labels."""
        return f"{self.root}/arrays/{set_name}.npz"

    def descriptors(self, name: str, set_name: str) -> str:
        """A descriptor of a set: hsv<bins>, jointhsv, spectrum, lbp, cooc, crosscooc."""
        return f"{self.root}/descriptors/{name}/{set_name}.npy"

    def model_dir(self, model: str) -> str:
        """The folder of the model named ``family/name``."""
        return f"{self.root}/{model}"

    def model_file(self, model: str, name: str) -> str:
        """A file of a model's folder, e.g. ``model_file("knn/combo", VAL_PROBA)``."""
        return f"{self.model_dir(model)}/{name}"

    def summary(self) -> str:
        """One row per model, the columns a reader needs."""
        return f"{self.root}/metrics/summary.csv"

    def summary_full(self) -> str:
        """One row per model, every field of its metrics record."""
        return f"{self.root}/metrics/summary_full.csv"

    def figure(self, name: str) -> str:
        return f"{self.root}/figures/{name}"

    def report_file(self, name: str) -> str:
        return f"{self.root}/report/{name}"

    def card(self, model: str) -> str:
        """A model's card in the HTML report."""
        return self.report_file(f"cards/{card_name(model)}")

    def report_page(self) -> str:
        """The landing page of ``snakemake --report`` (reStructuredText)."""
        return self.report_file("workflow.rst")

    def submission(self) -> str:
        return f"{self.root}/submission.csv"

    def unknowns(self) -> str:
        """The detector of images of none of the five generators (deepfake.unknowns)."""
        return f"{self.root}/unknowns/{UNKNOWNS}"

    def unknowns_metrics(self) -> str:
        """The detector's threshold and the share of validation images it calls unknown."""
        return f"{self.root}/unknowns/{METRICS}"

    def predictions(self) -> str:
        return f"{self.root}/predictions.csv"

    def duplicates(self) -> str:
        return f"{self.root}/arrays/duplicates.txt"

    def checkpoints(self, variant: str) -> str:
        """Where a training job keeps its resumable state (outside its declared outputs)."""
        return f"{self.root}/.checkpoints/cnn/{variant}"

    def log(self, name: str) -> str:
        """A job's log, e.g. ``log("ingest/{split}")``."""
        return f"{self.root}/logs/{name}.log"

    def benchmark(self, name: str) -> str:
        """A job's Snakemake benchmark (wall time, memory), e.g. ``benchmark("gbm/{name}")``."""
        return f"{self.root}/benchmarks/{name}.tsv"


def model_of(path: str | Path) -> str:
    """The model whose folder holds ``path``: ``results/cnn/baseline/val_proba.npy`` ->
    ``cnn/baseline``."""
    return "/".join(Path(path).parent.parts[-2:])


def card_name(model: str) -> str:
    """The file name of a model's card: ``cnn/fast`` -> ``cnn_fast.html``."""
    return model.replace("/", "_") + ".html"


def output_name(file: str) -> str:
    """The name under which a model rule declares a file of its folder: ``card`` for
    model.json, else the file's stem (``reference.npz`` -> ``reference``)."""
    return "card" if file == CARD else Path(file).stem


def family(model: str) -> str:
    return model.split("/")[0]
