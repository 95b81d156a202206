"""The model families, one record each, and the one loader of a model folder.

A family is its model class (a folder it can ``save`` and ``load``, whose object has
``predict_proba(images uint8 (N, 100, 100, 3)) -> (N, 5)``), the files of its folder
that inference reads, the rule that makes its folders and what its choices owe to
the validation split. The loader, the config checks, the wildcard constraints, the
report and the tests read :data:`FAMILIES`, so a new family is its module, its rule
and one line here.

Standard library only at import time (Snakemake imports it at parse time); a model
class is imported when a folder of its family is loaded.
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from deepfake import layout

CARD_FORMAT = 2  # version of a model folder's model.json (2: data only, its family under "family")


@dataclass(frozen=True)
class Family:
    name: str
    model: str  # "module:Class" of its model folder
    files: tuple[str, ...]  # the files of its folder that inference reads
    rule: str  # the rule that writes its folders
    protocol: str  # what its choices owe to the validation split, in a few words

    def model_class(self):
        module, name = self.model.split(":")
        return getattr(importlib.import_module(module), name)


FAMILIES = {
    f.name: f
    for f in (
        Family(
            "knn",
            "deepfake.knn_model:KnnModel",
            (layout.CARD, layout.REFERENCE),
            "knn",
            "k and voting chosen on validation; for combo, weights, k and voting by "
            "cross-validation on the training split",
        ),
        Family(
            "gbm",
            "deepfake.gbm_model:GbmModel",
            (layout.CARD, layout.TREES),
            "gbm",
            "nothing chosen on validation",
        ),
        Family(
            "cnn",
            "deepfake.cnn_model:CnnModel",
            (layout.CARD, layout.NETWORK),
            "train_cnn",
            "report protocol: validation picks the epoch, the rate and the stop; clean: "
            "validation scored once, at the end",
        ),
        Family(
            "ensemble",
            "deepfake.ensemble:EnsembleModel",
            (layout.CARD,),
            "ensemble",
            "the members' own; their combination is fitted on nothing",
        ),
    )
}


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
    if card.get("family") not in FAMILIES:
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
