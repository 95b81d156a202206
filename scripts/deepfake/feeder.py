"""Batch feeder of the CNN: in-memory batches, online augmentation, model inputs, TTA.

The uint8 arrays stay in memory; :class:`ArrayBatches` (a keras PyDataset)
gathers each batch. It measured as fast as ``model.fit`` on numpy dicts, and
unlike the numpy path its order is reproducible after a resume.

Online augmentation, per batch, all integer pixel moves (no resampling: the
generators' fingerprints live in the high frequencies, which interpolation
would blur): random horizontal flips, random shifts by up to ``shift`` pixels
(edges reflected), random ``crop`` x ``crop`` windows at native resolution
(whole images in the last ``full_size_epochs`` epochs), then MixUp or CutMix.
Every random draw of batch ``b`` of epoch ``e`` comes from
``default_rng([seed, e, b])``, so a run is reproducible and a resumed run sees
the same batches as an uninterrupted one.

Labels are one-hot float32 (soft after mixing). Mixing weights the histogram
(and frequency) inputs with the same lambda as the image and its label; for
CutMix lambda is the pasted box's area ratio. Mixed images are rounded back to
uint8, the model's input type. Flips and shifts leave the histogram as it is
(a flip does not change it; a shift of a few reflected pixels barely does), and a
crop keeps the whole image's histogram: the colour statistics of the image it
will be asked about.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import keras
import numpy as np

from deepfake import N_CLASSES
from deepfake.settings import TTA_TRANSFORMS, TrainSettings

INPUTS = ("image", "hist", "freq")  # every model input a split may carry
PREDICT_BATCH = 256
FEEDER_THREADS = 2


def inputs(split: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The model's input dict of a split: each of image, hist, freq it carries
    (a dict, since a tuple would be read as (x, y))."""
    return {name: split[name] for name in INPUTS if name in split}


def one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(N_CLASSES, dtype=np.float32)[np.asarray(labels, dtype=np.int64)]


def transform(images: np.ndarray, name: str) -> np.ndarray:
    """A symmetry of the square applied to a batch (N, H, W, C) of square images: a
    view, no pixel resampled. ``rot90`` turns a quarter counter-clockwise."""
    if name == "hflip":
        return images[:, :, ::-1]
    if name == "vflip":
        return images[:, ::-1]
    if name in ("rot90", "rot180", "rot270"):
        return np.rot90(images, int(name[3:]) // 90, axes=(1, 2))
    if name == "transpose":
        return images.transpose(0, 2, 1, 3)
    if name == "antitranspose":
        return images[:, ::-1, ::-1].transpose(0, 2, 1, 3)
    raise ValueError(f"unknown test-time transform {name!r}; known: {TTA_TRANSFORMS}")


def predict_proba(
    model: keras.Model, split: Mapping[str, np.ndarray], tta: Sequence[str] = ()
) -> np.ndarray:
    """Class probabilities, float32 (N, 5): the mean over the identity and each
    test-time transform in ``tta`` (applied to the image; the histogram and
    frequency inputs are invariant under flips)."""
    x = inputs(split)
    for name in tta:  # fail before predicting anything
        transform(x["image"][:0], name)
    total = np.asarray(model.predict(x, batch_size=PREDICT_BATCH, verbose=0), dtype=np.float64)
    for name in tta:
        xt = x | {"image": np.ascontiguousarray(transform(x["image"], name))}
        total += np.asarray(model.predict(xt, batch_size=PREDICT_BATCH, verbose=0))
    return (total / (1 + len(tta))).astype(np.float32)


# --------------------------------------------------------------------------- augmentation


def flip_shift(
    images: np.ndarray, rng: np.random.Generator, flip: bool, shift: int, rotate: bool = False
) -> np.ndarray:
    """Random horizontal flips (p = 0.5), random quarter turns (0, 1, 2 or 3, uniform;
    square images) and integer shifts in [-shift, shift] pixels (reflected edges) of a
    uint8 batch (N, H, W, C); a new array. Flips with quarter turns draw each of the 8
    symmetries of the square with probability 1/8."""
    out = images.copy()
    n, h, w = images.shape[:3]
    if flip:
        flipped = rng.random(n) < 0.5
        out[flipped] = out[flipped, :, ::-1]
    if rotate:
        if h != w:
            raise ValueError(f"quarter turns need square images, got {h}x{w}")
        turns = rng.integers(0, 4, size=n)
        for k in (1, 2, 3):
            out[turns == k] = np.rot90(out[turns == k], k, axes=(1, 2))
    if shift > 0:
        s = int(shift)
        padded = np.pad(out, ((0, 0), (s, s), (s, s), (0, 0)), mode="reflect")
        dy, dx = rng.integers(0, 2 * s + 1, size=(2, n))
        for i in range(n):
            out[i] = padded[i, dy[i] : dy[i] + h, dx[i] : dx[i] + w]
    return out


def random_crops(images: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """A ``size`` x ``size`` window of each image of a uint8 batch (N, H, W, C), at a
    uniform random position inside it (no padding, no resampling); a new array."""
    n, h, w = images.shape[:3]
    if not 0 < size <= min(h, w):
        raise ValueError(f"crop {size} does not fit {h}x{w} images")
    y0 = rng.integers(0, h - size + 1, size=n)
    x0 = rng.integers(0, w - size + 1, size=n)
    out = np.empty((n, size, size, images.shape[3]), dtype=images.dtype)
    for i in range(n):
        out[i] = images[i, y0[i] : y0[i] + size, x0[i] : x0[i] + size]
    return out


def mixup(x: dict, y: np.ndarray, rng: np.random.Generator, alpha: float):
    """MixUp with one lambda ~ Beta(alpha, alpha) per batch: inputs and labels
    become ``lam * a + (1 - lam) * a[perm]``."""
    lam = float(rng.beta(alpha, alpha))
    perm = rng.permutation(len(y))
    out = {}
    for name, a in x.items():
        mixed = lam * a.astype(np.float32) + (1 - lam) * a[perm].astype(np.float32)
        out[name] = np.rint(mixed).astype(np.uint8) if a.dtype == np.uint8 else mixed
    return out, (lam * y + (1 - lam) * y[perm]).astype(np.float32)


def cutmix(x: dict, y: np.ndarray, rng: np.random.Generator, alpha: float):
    """CutMix: a box of area ~ (1 - lam) of the image is pasted from a permuted
    partner; labels and the other inputs are mixed with the box's true area ratio."""
    lam = float(rng.beta(alpha, alpha))
    perm = rng.permutation(len(y))
    image = x["image"].copy()
    h, w = image.shape[1:3]
    cut = math.sqrt(1.0 - lam)
    bh, bw = int(round(h * cut)), int(round(w * cut))
    cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
    y0, y1 = max(cy - bh // 2, 0), min(cy + bh - bh // 2, h)
    x0, x1 = max(cx - bw // 2, 0), min(cx + bw - bw // 2, w)
    image[:, y0:y1, x0:x1] = x["image"][perm, y0:y1, x0:x1]
    lam = 1.0 - (y1 - y0) * (x1 - x0) / (h * w)
    out = {"image": image}
    for name, a in x.items():
        if name != "image":
            out[name] = (lam * a + (1 - lam) * a[perm]).astype(np.float32)
    return out, (lam * y + (1 - lam) * y[perm]).astype(np.float32)


class ArrayBatches(keras.utils.PyDataset):
    """Shuffled, optionally augmented mini-batches of in-memory arrays.

    The order of epoch ``e`` is ``default_rng([seed, e]).permutation(n)``, the
    augmentation of its batch ``b`` draws from ``default_rng([seed, e, b])``:
    neither depends on how many epochs ran in this process, so a resumed run
    sees the same batches as an uninterrupted one. ``SyncEpoch`` sets ``epoch``
    at the start of each epoch (before its first batch is drawn).
    """

    def __init__(
        self,
        split: Mapping[str, np.ndarray],
        batch_size: int,
        seed: int,
        *,
        flip: bool = False,
        rotate: bool = False,
        shift: int = 0,
        crop: int = 0,
        crop_epochs: int | None = None,
        mixup_alpha: float = 0.0,
        cutmix_alpha: float = 0.0,
        mix_prob: float = 1.0,
    ):
        """``crop_epochs``: the epochs (from the first) whose batches are cropped
        when ``crop`` > 0; None: every epoch."""
        # Two worker threads: keras then prepares the batches in its own thread pool,
        # and TensorFlow's tf.data pipeline runs without a prefetch thread. With one
        # worker, tf.data prefetches in a thread of its own, and keras drops that
        # iterator at every epoch start while its thread waits for the GIL inside this
        # Python code: the first batch of an epoch then took 35-45 s (9 of 30 epochs of
        # config.fast.yaml's run on 2 cores, a fifth of its training time).
        super().__init__(workers=FEEDER_THREADS, use_multiprocessing=False)
        self.x = {"image": np.ascontiguousarray(split["image"], dtype=np.uint8)}
        for name in INPUTS[1:]:
            if name in split:
                self.x[name] = np.ascontiguousarray(split[name], dtype=np.float32)
        self.label = np.ascontiguousarray(split["label"], dtype=np.int32)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.flip, self.rotate, self.shift = bool(flip), bool(rotate), int(shift)
        self.crop, self.crop_epochs = int(crop), crop_epochs
        self.mixup_alpha, self.cutmix_alpha = float(mixup_alpha), float(cutmix_alpha)
        self.mix_prob = float(mix_prob)
        if min(self.shift, self.crop) < 0 or self.mixup_alpha < 0 or self.cutmix_alpha < 0:
            raise ValueError("shift, crop, mixup_alpha and cutmix_alpha must be >= 0")
        self.epoch = 0
        self._order: tuple[int | None, np.ndarray] = (None, np.arange(len(self.label)))

    @classmethod
    def from_settings(cls, split: Mapping[str, np.ndarray], s: TrainSettings) -> ArrayBatches:
        return cls(
            split,
            s.batch_size,
            s.seed,
            flip=s.flip,
            rotate=s.rotate,
            shift=s.shift,
            crop=s.crop,
            crop_epochs=s.epochs - s.full_size_epochs,
            mixup_alpha=s.mixup_alpha,
            cutmix_alpha=s.cutmix_alpha,
            mix_prob=s.mix_prob,
        )

    def crop_size(self, epoch: int) -> int:
        """The training window of ``epoch``'s batches (0: whole images)."""
        if self.crop and (self.crop_epochs is None or epoch < self.crop_epochs):
            return self.crop
        return 0

    @property
    def num_batches(self) -> int:
        return math.ceil(len(self.label) / self.batch_size)

    def __len__(self) -> int:
        return self.num_batches

    def augments(self, epoch: int) -> bool:
        mixes = self.mixup_alpha > 0 or self.cutmix_alpha > 0
        moves = self.flip or self.rotate or self.shift > 0 or self.crop_size(epoch) > 0
        return moves or mixes

    def order(self, epoch: int) -> np.ndarray:
        """The epoch's permutation of the images (cached; safe from several threads)."""
        cached = self._order  # one (epoch, order) pair, replaced as a whole
        if cached[0] != epoch:
            cached = (epoch, np.random.default_rng([self.seed, epoch]).permutation(len(self.label)))
            self._order = cached
        return cached[1]

    def batch(self, epoch: int, index: int) -> tuple[dict, np.ndarray]:
        """Batch ``index`` of ``epoch``: (inputs, one-hot float32 labels)."""
        idx = self.order(epoch)[index * self.batch_size : (index + 1) * self.batch_size]
        idx = np.sort(idx)  # sequential memory reads; the batch's content is unchanged
        x = {name: a[idx] for name, a in self.x.items()}
        y = one_hot(self.label[idx])
        if not self.augments(epoch):
            return x, y
        rng = np.random.default_rng([self.seed, epoch, index])
        x["image"] = flip_shift(x["image"], rng, self.flip, self.shift, self.rotate)
        if crop := self.crop_size(epoch):  # drawn after flips and shifts: their draws stay
            x["image"] = random_crops(x["image"], rng, crop)
        alphas = [(f, a) for f, a in ((mixup, self.mixup_alpha), (cutmix, self.cutmix_alpha)) if a]
        if alphas and rng.random() < self.mix_prob:
            mix, alpha = alphas[int(rng.integers(len(alphas)))]
            x, y = mix(x, y, rng, alpha)
        return x, y

    def __getitem__(self, index: int):
        return self.batch(self.epoch, index)
