"""The CNN model: a trained Keras network and the inputs it reads, as a model folder.

``model.keras`` holds the network; ``model.json`` the histogram bins of its
``hist`` input, its fingerprint input (if any) and its test-time transforms.
train_cnn computes validation and test probabilities through
:meth:`CnnModel.proba_from_inputs`, predict through :meth:`CnnModel.predict_proba`
(which computes those inputs with the descriptor rules' functions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake import layout
from deepfake.descriptors import descriptor, hsv_histograms
from deepfake.families import read_card, save_card
from deepfake.feeder import predict_proba
from deepfake.io import atomic_path


@dataclass
class CnnModel:
    """A trained Keras network and the inputs it reads."""

    network: object  # keras.Model
    bins: int
    fingerprint: tuple[str, ...] = ()
    tta: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, network, settings) -> CnnModel:
        return cls(network, settings.bins, tuple(settings.fingerprint), tuple(settings.tta))

    def inputs(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """The network's inputs of RGB uint8 ``images``: the image, its histograms and,
        where the network has a fingerprint input, its descriptors side by side."""
        x = {"image": images, "hist": hsv_histograms(images, self.bins)}
        if self.fingerprint:
            x["freq"] = fingerprint_rows([descriptor(f, images) for f in self.fingerprint])
        return x

    def proba_from_inputs(self, x: Mapping[str, np.ndarray]) -> np.ndarray:
        """Probabilities (N, 5) of model inputs, averaged over the test-time transforms."""
        return predict_proba(self.network, x, tta=self.tta)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        return self.proba_from_inputs(self.inputs(images))

    def save(self, folder: str | Path, **card) -> None:
        """Write the folder; ``card``: more of its model.json (what it was trained on,
        its temperature: :func:`deepfake.families.save_card`)."""
        folder = Path(folder)
        with atomic_path(folder / layout.NETWORK) as tmp:
            inference_copy(self.network).save(tmp)
        save_card(
            folder,
            "cnn",
            **card,
            network=layout.NETWORK,
            bins=self.bins,
            fingerprint=list(self.fingerprint),
            tta=list(self.tta),
        )

    @classmethod
    def load(cls, folder: str | Path, threads: int = 1) -> CnnModel:
        import keras

        folder = Path(folder)
        card = read_card(folder)
        if card["network"] != layout.NETWORK:
            raise ValueError(f"{folder}: its card names the network {card['network']!r}, "
                             f"not {layout.NETWORK!r} beside it")  # fmt: skip
        network = keras.models.load_model(folder / layout.NETWORK, compile=False, safe_mode=True)
        return cls(network, int(card["bins"]), tuple(card["fingerprint"]), tuple(card["tta"]))


def inference_copy(network):
    """The network with its weights but without its optimizer's state (about a quarter of
    the file: what inference needs; a killed run resumes from its checkpoint instead):
    rebuilt from its config, so nothing of its compilation comes along."""
    import keras

    copy = keras.Model.from_config(network.get_config())
    copy.set_weights(network.get_weights())
    return copy


def fingerprint_rows(descriptors) -> np.ndarray:
    """A CNN's fingerprint input: its descriptors' rows side by side, float32 (N, D).
    train_cnn reads them from the descriptor files, predict computes them: one join."""
    return np.concatenate([np.asarray(d, dtype=np.float32) for d in descriptors], axis=1)
