"""Trained models as artifacts: one folder per model, one loader, one ``predict_proba``.

The rule that makes a model writes into its folder (``results/<family>/<name>/``)
everything inference needs, described by ``model.json``; :func:`load` reads any
folder back, and its ``predict_proba(images)`` maps RGB uint8 images
(N, 100, 100, 3) to class probabilities (N, 5). The knn, train_cnn and ensemble
rules compute their validation and test probabilities through the same objects,
and rule predict uses nothing else, so there is no second copy of a descriptor,
an input or a vote to drift.

- ``knn``: :class:`deepfake.knn_model.KnnModel`;
- ``gbm``: :class:`deepfake.gbm_model.GbmModel`;
- ``cnn``: :class:`deepfake.cnn_model.CnnModel`;
- ``ensemble``: :class:`deepfake.ensemble.EnsembleModel`, its members being sibling
  model folders of the same results tree.
"""

from __future__ import annotations

from pathlib import Path

from deepfake import layout
from deepfake.ensemble import EnsembleModel
from deepfake.io import read_card


def load(folder: str | Path, threads: int = 1):
    """The model saved in ``folder``: a KnnModel, GbmModel, CnnModel or EnsembleModel."""
    kind = read_card(folder)["kind"]
    if kind == "knn":
        from deepfake.knn_model import KnnModel

        return KnnModel.load(folder, threads)
    if kind == "gbm":
        from deepfake.gbm_model import GbmModel

        return GbmModel.load(folder, threads)
    if kind == "cnn":
        from deepfake.cnn_model import CnnModel

        return CnnModel.load(folder, threads)
    if kind == "ensemble":
        root = layout.results_root(folder)
        members = read_card(folder)["members"]
        return EnsembleModel({m: load(layout.model_dir(m, root), threads) for m in members})
    raise ValueError(f"{Path(folder) / layout.CARD}: unknown model kind {kind!r}")
