"""The model families, one record each, and the one loader of a model folder.

A family is its model class (a folder it can ``save`` and ``load``, whose object has
``predict_proba(images uint8 (N, 100, 100, 3)) -> (N, 5)``), the files of its folder
that inference reads, the rule that makes its folders, what its choices owe to the
validation split, and what the workflow asks of a config for it: which models the
config trains, what each model's job reads and uses. The loader, the config checks,
the workflow's rules and their inputs, the wildcard constraints, predict, the report
and the tests read :data:`FAMILIES`.

A family on the file-level descriptors (``descriptors`` set) is trained by the one
shared model job (:mod:`deepfake.model_job`, rule file ``rules/model.smk``): its
model class provides ``fit_sets(sets, job) -> Fitted`` and the job does the rest
(loading, calibration, the folder, the probabilities, the metrics). So such a family is
its model module, its section of the config schema and one record here.

Standard library only at import time (Snakemake imports it at parse time); a model
class is imported when a folder of its family is loaded or trained.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from deepfake import layout
from deepfake.settings import COMBINATION, TrainSettings

CARD_FORMAT = 2  # version of a model folder's model.json (2: data only, its family under "family")


def _none(config: Mapping) -> list[str]:
    return []


@dataclass(frozen=True)
class Family:
    name: str
    model: str  # "module:Class" of its model folder
    files: tuple[str, ...]  # the files of its folder that inference reads
    protocol: str  # what its choices owe to the validation split, in a few words
    models: Callable[[Mapping], list[str]]  # the models ("family/name") a config trains
    title: str = ""  # what it is, in a few words (the report's explanation of "family")
    rule: str = ""  # the rule that writes its folders ("": the shared model rule, as name)
    # The shared model job (families on the file-level descriptors; None: a rule of its own):
    # the descriptor groups model ``name`` reads, as their output folders (hsv16, spectrum;
    # pixels: the images themselves), and the config values its fit uses (its params).
    descriptors: Callable[[Mapping, str], list[str]] | None = None
    params: Callable[[Mapping, str], Mapping] = lambda config, name: {}
    # whether model ``name`` learns from the stored augmented training set (the images
    # and their copies, augment.*) instead of the training images alone
    augmented: Callable[[Mapping, str], bool] = lambda config, name: False
    outputs: tuple[str, ...] = ()  # files its job writes besides these (knn: grid.csv)
    threads: int = 2  # of its job
    memory: int = 4  # its job's memory: 2 GB and this many MB per MB of its inputs
    keras: bool = False  # loading a folder needs Keras configured first
    # its models of a config that choose on validation (which refit refuses), and how
    # a config chooses none of them
    on_validation: Callable[[Mapping], list[str]] = _none
    on_validation_fix: str = ""
    combines: bool = False  # its models combine other models of the run (the ensemble)

    def __post_init__(self):
        if not self.rule:
            object.__setattr__(self, "rule", self.name)

    def model_class(self):
        module, name = self.model.split(":")
        return getattr(importlib.import_module(module), name)

    @property
    def module_name(self) -> str:
        """The module of its model class (``deepfake.knn_model``)."""
        return self.model.split(":")[0]


# ------------------------------------------------------ what a config asks of the families
# (the config has been validated: the schema filled in every default)


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


def descriptor_name(config: Mapping, name: str) -> str:
    """A configured descriptor as its output folder: hsv -> hsv<histogram_bins>."""
    return f"hsv{config['histogram_bins']}" if name == "hsv" else name


def knn_names(config: Mapping) -> list[str]:
    """The KNN models' names: knn.descriptors as their output folders (hsv<bins>, pixels,
    jointhsv, spectrum, lbp, combo)."""
    return [descriptor_name(config, d) for d in config["knn"]["descriptors"]]


def knn_combination(config: Mapping) -> dict:
    """knn.combination with its groups named as their output folders."""
    combo = config["knn"]["combination"]
    return normalised(combo | {"groups": [descriptor_name(config, g) for g in combo["groups"]]})


def knn_params(config: Mapping, name: str) -> dict:
    """The grid a KNN chooses from (k, voting) and, for combo, the combination."""
    knn = config["knn"]
    grid = {"k": sorted(knn["k"]), "weights": sorted(knn["weights"])}
    return grid | ({"combination": knn_combination(config)} if name == COMBINATION else {})


def gbm_params(config: Mapping, name: str) -> dict:
    """gbm's settings (the estimator's), without its name and descriptors."""
    return normalised({k: v for k, v in config["gbm"].items() if k not in ("name", "descriptors")})


def trained_variants(config: Mapping) -> list[str]:
    """The variants to train: ``cnn.train`` (``all``: every variant), in config order."""
    variants = list(config["cnn"]["variants"])
    chosen = config["cnn"]["train"]
    if chosen == "all":
        return variants
    unknown = [v for v in chosen if v not in variants]
    if unknown:
        raise ValueError(f"cnn.train names unknown variant(s) {unknown}; configured: {variants}")
    return [v for v in variants if v in chosen]


def trained_models(config: Mapping) -> list[str]:
    """Every trained model, as ``family/name``, family by family."""
    return [m for f in FAMILIES.values() if not f.combines for m in f.models(config)]


def ensemble_members(config: Mapping) -> list[str]:
    """The ensemble's members (default: every trained CNN variant); [] when fewer than
    two. Any trained model may be listed, KNN ones included."""
    members = config["ensemble"].get("members")  # no default: absent means the CNNs
    if members is None:
        members = [f"cnn/{v}" for v in trained_variants(config)]
    unknown = sorted(set(members) - set(trained_models(config)))
    if unknown:
        raise ValueError(
            f"config ensemble.members: {unknown} are not models of this run "
            f"(choose from {trained_models(config)})"
        )
    return list(members) if len(members) >= 2 else []


FAMILIES = {
    f.name: f
    for f in (
        Family(
            "knn",
            "deepfake.knn_model:KnnModel",
            (layout.CARD, layout.REFERENCE),
            "k and voting chosen on validation; for combo, weights, k and voting by "
            "cross-validation on the training split",
            models=lambda config: [f"knn/{f}" for f in knn_names(config)],
            title="nearest neighbours",
            descriptors=lambda config, name: (
                knn_combination(config)["groups"] if name == COMBINATION else [name]
            ),
            params=knn_params,
            outputs=(layout.GRID,),
            threads=4,
            memory=6,
            on_validation=lambda config: [
                f"knn/{f}" for f in knn_names(config) if f != COMBINATION
            ],
            on_validation_fix="knn.descriptors to [combo] or []",
        ),
        Family(
            "gbm",
            "deepfake.gbm_model:GbmModel",
            (layout.CARD, layout.TREES),
            "nothing chosen on validation",
            models=lambda config: (
                [f"gbm/{config['gbm']['name']}"] if config["gbm"]["descriptors"] else []
            ),
            title="gradient-boosted trees",
            descriptors=lambda config, name: [
                descriptor_name(config, d) for d in config["gbm"]["descriptors"]
            ],
            params=gbm_params,
            augmented=lambda config, name: config["gbm"]["augmented"],
        ),
        Family(
            "cnn",
            "deepfake.cnn_model:CnnModel",
            (layout.CARD, layout.NETWORK),
            "report protocol: validation picks the epoch, the rate and the stop; clean: "
            "validation scored once, at the end",
            models=lambda config: [f"cnn/{v}" for v in trained_variants(config)],
            title="a network",
            rule="train_cnn",
            keras=True,
            on_validation=lambda config: [
                f"cnn/{v}"
                for v in trained_variants(config)
                if TrainSettings.from_config(config, v).select_on_validation
            ],
            on_validation_fix="cnn.select_on_validation: false",
        ),
        Family(
            "ensemble",
            "deepfake.ensemble:EnsembleModel",
            (layout.CARD,),
            "the members' own; their combination is fitted on nothing",
            models=lambda config: (
                [f"ensemble/{config['ensemble']['name']}"] if ensemble_members(config) else []
            ),
            title="its members' probabilities combined",
            keras=True,  # its members may be networks
            combines=True,
        ),
    )
}


def descriptor_families() -> list[Family]:
    """The families the shared model job trains (rule file ``rules/model.smk``)."""
    return [f for f in FAMILIES.values() if f.descriptors is not None]


def save_card(
    folder: str | os.PathLike,
    family: str,
    data: dict | None = None,
    temperature: float = 1.0,
    **fields,
) -> None:
    """Write a model folder's ``model.json``: its family, what it was trained on
    (``data``; None: not known), the temperature of its probabilities
    (:mod:`deepfake.calibration`) and what inference needs (``fields``)."""
    from deepfake.io import save_json

    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}")
    card = {"format": CARD_FORMAT, "family": family, "data": data, "temperature": temperature}
    save_json(Path(folder) / layout.CARD, card | fields)


def read_card(folder: str | os.PathLike) -> dict:
    """A model folder's ``model.json``, or a clear error naming the folder: none there,
    not a card of this workflow, or a card of another format (an older workflow's)."""
    path = Path(folder) / layout.CARD
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no trained model there (run the workflow first)")
    try:
        card = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a model card of this workflow ({error})") from None
    if not isinstance(card, dict) or "format" not in card:
        raise ValueError(f"{path}: not a model card of this workflow")
    if card["format"] != CARD_FORMAT:
        raise ValueError(
            f"{path}: a model card of format {card['format']!r}; this version of the workflow "
            f"reads format {CARD_FORMAT} only (a model folder of data only, whose loading "
            "runs no code). Retrain the model with this version of the workflow: rerun the "
            "workflow for a run's models, `snakemake ship_model` with its recipe for a "
            "shipped model"
        )
    family = card.get("family")
    if not isinstance(family, str) or family not in FAMILIES:
        raise ValueError(
            f"{path}: unknown model family {card.get('family')!r} (families: {', '.join(FAMILIES)})"
        )
    return card


def load(folder: str | Path, threads: int = 1):
    """The model saved in ``folder``, whatever its family, its probabilities at its
    temperature. Every file read is data (JSON, numeric arrays, a Keras file in Keras'
    safe mode): loading a folder runs none of its contents as code."""
    card = read_card(folder)
    model = FAMILIES[card["family"]].model_class().load(folder, threads)
    temperature = float(card.get("temperature", 1.0))
    if temperature == 1.0:
        return model
    from deepfake.calibration import Calibrated

    return Calibrated(model, temperature)
