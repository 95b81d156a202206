"""The gradient-boosted model: scikit-learn's histogram gradient boosting on the hand-made
descriptors side by side, as a model folder.

``model.json`` names the descriptors and the scikit-learn version that fitted it;
``model.joblib`` holds the fitted ``HistGradientBoostingClassifier`` (joblib, as
scikit-learn recommends: a model folder is trusted like any code of the run). The
gbm rule computes validation and test probabilities through
:meth:`GbmModel.proba_from_descriptors`, predict through :meth:`GbmModel.predict_proba`.

Nothing is chosen on validation: the number of boosting rounds, the rate and the
tree size are settings (``gbm.*``), and with no early stopping nor subsampling the
fit is deterministic (and the same for any thread count: tested).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake import N_CLASSES, layout
from deepfake.descriptor_model import DescriptorModel
from deepfake.families import read_card, save_card
from deepfake.io import atomic_path

log = logging.getLogger(__name__)


@dataclass
class GbmModel(DescriptorModel):
    descriptors: tuple[str, ...]
    estimator: object  # a fitted sklearn HistGradientBoostingClassifier

    @classmethod
    def fit(
        cls,
        descriptors: Sequence[str],
        groups: Sequence[np.ndarray],
        labels: np.ndarray,
        params: Mapping,
    ) -> GbmModel:
        """Boost ``params["max_iter"]`` rounds of trees on the descriptors side by side."""
        from sklearn.ensemble import HistGradientBoostingClassifier

        estimator = HistGradientBoostingClassifier(
            max_iter=int(params["max_iter"]),
            learning_rate=float(params["learning_rate"]),
            max_leaf_nodes=int(params["max_leaf_nodes"]),
            l2_regularization=float(params["l2_regularization"]),
            early_stopping=False,
            random_state=int(params["seed"]),
        )
        x = cls.stack(groups)
        estimator.fit(x, np.asarray(labels))
        if list(estimator.classes_) != list(range(N_CLASSES)):
            raise ValueError(f"the training labels hold classes {list(estimator.classes_)}")
        return cls(tuple(descriptors), estimator)

    @staticmethod
    def stack(groups: Sequence[np.ndarray]) -> np.ndarray:
        return np.concatenate([np.asarray(g, dtype=np.float32) for g in groups], axis=1)

    def proba_from_descriptors(self, groups: Sequence[np.ndarray]) -> np.ndarray:
        return self.estimator.predict_proba(self.stack(groups)).astype(np.float32)

    def save(self, folder: str | Path, **card) -> None:
        """Write the folder; ``card``: more of its model.json (what it was trained on,
        its temperature: :func:`deepfake.families.save_card`)."""
        import joblib
        import sklearn

        folder = Path(folder)
        with atomic_path(folder / layout.ESTIMATOR) as tmp:
            joblib.dump(self.estimator, tmp)
        save_card(
            folder,
            "gbm",
            **card,
            descriptors=list(self.descriptors),
            estimator=layout.ESTIMATOR,
            sklearn=sklearn.__version__,
        )

    @classmethod
    def load(cls, folder: str | Path, threads: int = 1) -> GbmModel:
        import joblib
        import sklearn

        folder = Path(folder)
        card = read_card(folder)
        if card["sklearn"] != sklearn.__version__:
            log.warning(
                "%s was fitted with scikit-learn %s, loaded with %s",
                folder,
                card["sklearn"],
                sklearn.__version__,
            )
        return cls(tuple(card["descriptors"]), joblib.load(folder / card["estimator"]))
