"""A new model family on the file-level descriptors is a module, a registry record and a
schema section: nothing else of the workflow changes.

A copy of the workflow gets exactly three additions (a nearest-class-centroid module,
its record appended to the registry, its section of the config schema); its tiny run,
with a held-out set and an ensemble of the new family's model and a KNN, trains,
calibrates and scores the new model, ranks it in the summary, gives it a card in the
report and makes it an ensemble member, and ``predict`` answers with it and gives back
its validation probabilities.
"""

from __future__ import annotations

import filecmp
import json

import numpy as np
import pandas as pd
import pytest
from conftest import (
    REPO,
    WORKFLOW_FILES,
    copy_workflow,
    edited,
    load_config,
    planned_rules,
    snakemake,
)

pytestmark = pytest.mark.slow

# (a) the family's module: its model class, with the fit the shared model job calls
MODULE = '''"""Nearest class centroid on one descriptor: the mean training row of each class;
probabilities are the softmax of the negative L1 distances to the centroids (over their
mean on the training set). ``model.json`` names the descriptor and the scale;
``centroids.npz`` holds the centroids (plain numbers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepfake import N_CLASSES, layout
from deepfake.descriptor_model import DescriptorModel, Fitted
from deepfake.families import read_card, save_card
from deepfake.io import atomic_path

CENTROIDS = "centroids.npz"


class CentroidModel(DescriptorModel):
    def __init__(self, descriptors, centroids, scale):
        self.descriptors = tuple(descriptors)
        self.centroids = np.asarray(centroids, dtype=np.float64)
        self.scale = float(scale)

    @classmethod
    def fit_sets(cls, sets, job):
        """Each class's mean training row; nothing is chosen on validation."""
        train = sets["train"]
        x = np.asarray(train.groups[0], dtype=np.float64)
        centroids = np.stack([x[train.labels == c].mean(axis=0) for c in range(N_CLASSES)])
        scale = np.abs(x[:, None, :] - centroids[None]).sum(axis=-1).mean()
        return Fitted(cls(job.descriptors, centroids, scale), "clean", {"scale": float(scale)})

    def proba_from_descriptors(self, groups):
        x = np.asarray(groups[0], dtype=np.float64)
        logits = -np.abs(x[:, None, :] - self.centroids[None]).sum(axis=-1) / self.scale
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return (proba / proba.sum(axis=1, keepdims=True)).astype(np.float32)

    def save(self, folder, **card):
        folder = Path(folder)
        with atomic_path(folder / CENTROIDS) as tmp:
            np.savez(tmp, centroids=self.centroids)
        save_card(
            folder,
            "centroid",
            **card,
            descriptors=list(self.descriptors),
            scale=self.scale,
            centroids=CENTROIDS,
        )

    @classmethod
    def load(cls, folder, threads=1):
        folder = Path(folder)
        card = read_card(folder)
        with np.load(folder / card["centroids"], allow_pickle=False) as data:
            centroids = data["centroids"]
        return cls(card["descriptors"], centroids, card["scale"])
'''

# (b) its record, appended to the registry
RECORD = """

FAMILIES["centroid"] = Family(
    "centroid",
    "deepfake.centroid_model:CentroidModel",
    (layout.CARD, "centroids.npz"),
    "nothing chosen on validation",
    models=lambda config: [
        f"centroid/{descriptor_name(config, d)}" for d in config["centroid"]["descriptors"]
    ],
    title="nearest class centroid",
    descriptors=lambda config, name: [name],
)
"""

# (c) its section of the config schema
SCHEMA = """  centroid:
    description: nearest-class-centroid models, one per descriptor
    type: object
    additionalProperties: false
    default: {}
    properties:
      descriptors:
        description: descriptors of a centroid model each ([] = none)
        type: array
        items: { enum: [hsv, jointhsv, spectrum, lbp, cooc, crosscooc] }
        uniqueItems: true
        default: []
"""

ADDED = {
    "scripts/deepfake/centroid_model.py",
    "scripts/deepfake/families.py",
    "schemas/config.schema.yaml",
}
MODEL = "centroid/hsv16"


def add_family(workdir):
    (workdir / "scripts" / "deepfake" / "centroid_model.py").write_text(MODULE)
    families = workdir / "scripts" / "deepfake" / "families.py"
    families.write_text(families.read_text() + RECORD)
    schema = workdir / "schemas" / "config.schema.yaml"
    text = schema.read_text()
    assert text.count("\nproperties:\n") == 1
    schema.write_text(text.replace("\nproperties:\n", "\nproperties:\n" + SCHEMA, 1))


def differences(workdir) -> set[str]:
    """The workflow's files that the copy adds or changes (config.yaml aside)."""
    found = set()
    for name in WORKFLOW_FILES:
        source = REPO / name
        if source.is_file():
            if not filecmp.cmp(source, workdir / name, shallow=False):
                found.add(name)
            continue
        ours = {
            p.relative_to(REPO).as_posix()
            for p in source.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        theirs = {
            p.relative_to(workdir).as_posix()
            for p in (workdir / name).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        found |= ours ^ theirs
        found |= {f for f in ours & theirs if not filecmp.cmp(REPO / f, workdir / f, shallow=False)}
    return found


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    config = load_config("tiny")
    config["knn"]["descriptors"] = ["hsv"]
    config["centroid"] = {"descriptors": ["hsv"]}
    config["ensemble"] = {"name": "pair", "members": [MODEL, "knn/hsv16"]}
    config["calibration"] = {"holdout": 0.2, "seed": 1}
    workdir = copy_workflow(tmp_path_factory.mktemp("new_family"), config)
    add_family(workdir)
    assert differences(workdir) == ADDED
    with pytest.MonkeyPatch.context() as env:  # the copy's package, with its new family
        env.setenv("PYTHONPATH", str(workdir / "scripts"))
        snakemake(workdir)
    return workdir


@pytest.fixture(autouse=True)
def its_own_package(run, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(run / "scripts"))


def test_the_new_family_is_trained_calibrated_and_scored(run):
    folder = run / "results" / MODEL
    card = json.loads((folder / "model.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    assert card["family"] == "centroid" and card["descriptors"] == ["hsv16"]
    assert (folder / "centroids.npz").is_file()
    assert metrics["family"] == "centroid" and metrics["name"] == "hsv16"
    assert metrics["inputs"] == "hsv16" and metrics["protocol"] == "clean"
    assert metrics["calibration"]["fitted_on"] == "20 held-out training images"
    assert card["temperature"] == metrics["calibration"]["temperature"]
    assert metrics["scale"] > 0 and 0 <= metrics["val_accuracy"] <= 1
    assert np.load(folder / "val_proba.npy").shape == (50, 5)
    assert np.load(folder / "holdout_proba.npy").shape == (20, 5)
    assert (run / "results" / "logs" / "centroid" / "hsv16.log").is_file()


def test_it_has_a_summary_row_a_card_and_joins_an_ensemble(run):
    summary = pd.read_csv(run / "results" / "metrics" / "summary.csv").set_index("model")
    assert summary.loc[MODEL, "family"] == "centroid"
    assert summary.loc[MODEL, "protocol"] == "clean"
    page = (run / "results" / "report" / "cards" / "centroid_hsv16.html").read_text()
    assert "nothing chosen on validation" in page
    ensemble = json.loads((run / "results" / "ensemble" / "pair" / "metrics.json").read_text())
    assert ensemble["members"] == [MODEL, "knn/hsv16"]
    assert "ensemble/pair" in summary.index


def test_predict_answers_with_it_and_gives_back_its_validation_probabilities(run):
    folder = run / "results" / "demo" / "validation"
    with np.load(run / "results" / "arrays" / "validation.npz") as arrays:
        names = [f"{i}.png" for i in arrays["ids"]]
    args = ("--config", f"predict_dir={folder}", f"predict_model={MODEL}")
    assert planned_rules(run, *args, "--", "predict") == {"predict": 1}  # nothing retrains
    snakemake(run, "predict", *args)
    table = pd.read_csv(run / "results" / "predictions.csv", dtype={"image_id": str})
    table = table.set_index("image_id").loc[names]
    assert table["model"].eq(MODEL).all()
    got = table[[f"proba_{c}" for c in range(5)]].to_numpy(np.float32)
    np.testing.assert_array_equal(got, np.load(run / "results" / MODEL / "val_proba.npy"))


def test_editing_its_module_reruns_its_model_and_what_follows(run):
    planned = edited(run, "centroid_model.py")
    assert planned["centroid"] == 1 and planned["ensemble"] == 1
    assert "knn" not in planned and "descriptors" not in planned
