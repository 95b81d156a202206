"""The settings of one CNN variant, as one typed, frozen object with one set of defaults.

:class:`TrainSettings` is built once per variant from the merged config
(``cnn.base`` + the variant's overrides, ``histogram_bins`` and
``cnn.select_on_validation``, :meth:`TrainSettings.from_config`); the model,
the optimiser, the feeder and the training loop read its attributes. Its
defaults are the reference report's recipe and live here only: the schema's
``cnn_settings`` describes the keys without ``default`` (a schema default would
be filled into every variant's overrides and replace ``cnn.base``'s value), and
``tests/test_settings.py`` holds each description's "(default X)" equal to the
field's default.

The vocabularies of the workflow (networks, heads, schedules, fingerprints,
test-time transforms, descriptors) are defined here once (the model families: in
:mod:`deepfake.families`); the
schema's enums and the Snakefile's wildcard constraints are tested equal to them.

Standard library only: Snakemake imports it at parse time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

# --------------------------------------------------------------------------- vocabularies

NETWORKS = ("paper", "resnet", "fast")
HEADS = ("gap", "flatten")
SCHEDULES = ("plateau", "cosine", "onecycle", "warmup_cosine")
# The seven non-identity symmetries of a square (the dihedral group): flips, quarter
# turns and the two transposes; every one moves whole pixels (no resampling).
TTA_TRANSFORMS = ("hflip", "vflip", "rot90", "rot180", "rot270", "transpose", "antitranspose")
# mixed_precision and jit_compile: a boolean, or "auto" (the device's fastest exact path:
# deepfake.backend.fastest_path)
PRECISION_AUTO = "auto"

# File-level descriptors (results/descriptors/<name>/<set>.npy) besides hsv<bins>.
FILE_DESCRIPTORS = ("jointhsv", "spectrum", "lbp", "cooc", "crosscooc")
# A CNN's fingerprint input: any of them, side by side (settings.fingerprint).
FINGERPRINTS = FILE_DESCRIPTORS
# Descriptors as configured in knn.descriptors: hsv (histogram_bins per channel), pixels,
# the file-level ones, and combo (the weighted combination of knn.combination.groups).
KNN_DESCRIPTORS = ("hsv", "pixels", *FILE_DESCRIPTORS, "combo")
COMBINATION = "combo"
# Descriptors a model computes from the images themselves (no file of the descriptor rules).
IMAGE_DESCRIPTORS = ("pixels",)


@dataclass(frozen=True)
class TrainSettings:
    """Every setting of one CNN variant (the keys of the schema's ``cnn_settings``)."""

    # inputs and protocol
    bins: int = 16  # HSV histogram bins per channel of the histogram input
    fingerprint: tuple[str, ...] = ()  # third input: descriptors side by side ((): none)
    select_on_validation: bool = True  # report protocol; False: the clean protocol
    # network
    network: str = "paper"
    filters: tuple[int, ...] = (32, 64, 128, 256, 256)
    blocks: tuple[int, ...] | None = None  # resnet/fast: per stage (None: one each)
    patch: int = 4  # fast: patch size and stride of the stem
    residual_stem: bool = False  # fast/resnet: the stem also sees the high-pass residual
    bn_momentum: float = 0.9
    hist_units: int = 64
    freq_units: int = 32
    dense_units: int = 512
    dropout: float = 0.5
    head: str = "gap"
    # optimisation
    schedule: str = "plateau"
    learning_rate: float = 0.001
    weight_decay: float = 0.0001
    batch_size: int = 64
    epochs: int = 60
    warmup_epochs: float = 1.0
    plateau_patience: int = 4
    plateau_factor: float = 0.5
    early_stopping_patience: int = 13
    label_smoothing: float = 0.0
    ema: float = 0.0
    precise_bn: int = 0
    # online augmentation (the feeder)
    flip: bool = False
    rotate: bool = False  # random quarter turns (with flip: all 8 symmetries of the square)
    shift: int = 0
    crop: int = 0  # train on random crop x crop windows (0: whole images)
    full_size_epochs: int = 0  # with crop: the last epochs train on whole images
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    mix_prob: float = 1.0
    # evaluation
    tta: tuple[str, ...] = field(default=())
    # execution
    mixed_precision: bool | str = False
    jit_compile: bool | str = False
    seed: int = 42

    def __post_init__(self):
        _check_choice("network", self.network, NETWORKS)
        _check_choice("head", self.head, HEADS)
        _check_choice("schedule", self.schedule, SCHEDULES)
        for name in self.fingerprint:
            _check_choice("fingerprint", name, FINGERPRINTS)
        if len(set(self.fingerprint)) != len(self.fingerprint):
            raise ValueError(f"fingerprint lists a descriptor twice: {list(self.fingerprint)}")
        for name in self.tta:
            _check_choice("tta", name, TTA_TRANSFORMS)
        for name in ("mixed_precision", "jit_compile"):
            value = getattr(self, name)
            if not isinstance(value, bool) and value != PRECISION_AUTO:
                raise ValueError(f"{name} must be true, false or {PRECISION_AUTO!r}, got {value!r}")
        if not self.filters or min(self.filters) < 1:
            raise ValueError(f"filters must be positive widths, got {list(self.filters)}")
        if self.network == "paper" and len(self.filters) != 5:
            raise ValueError(
                f"network paper: filters must list five conv blocks, got {list(self.filters)}"
            )
        if self.network != "paper" and self.blocks is not None:
            if len(self.blocks) != len(self.filters):
                raise ValueError(
                    f"blocks must give one count per stage of filters {list(self.filters)}, "
                    f"got {list(self.blocks)}"
                )
            if min(self.blocks) < 0:
                raise ValueError(f"blocks must be >= 0, got {list(self.blocks)}")
        if not 2 <= self.patch <= 10:
            raise ValueError(f"patch must be in 2..10, got {self.patch}")
        if not 0 <= self.bn_momentum < 1:
            raise ValueError(f"bn_momentum must be in [0, 1), got {self.bn_momentum}")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"ema must be in [0, 1), got {self.ema}")
        if min(self.shift, self.crop, self.full_size_epochs) < 0:
            raise ValueError("shift, crop and full_size_epochs must be >= 0")
        if min(self.mixup_alpha, self.cutmix_alpha) < 0:
            raise ValueError("mixup_alpha and cutmix_alpha must be >= 0")
        if self.crop and self.head == "flatten":
            raise ValueError("crop needs the gap head: flatten fixes the input size")
        if self.residual_stem and self.network == "paper":
            raise ValueError("residual_stem applies to the fast and resnet networks")
        if self.full_size_epochs and not self.crop:
            raise ValueError("full_size_epochs applies to runs with crop > 0")

    @property
    def blocks_per_stage(self) -> tuple[int, ...]:
        """Residual blocks per stage (resnet, fast): ``blocks``, or one per stage."""
        return (1,) * len(self.filters) if self.blocks is None else self.blocks

    @property
    def n_hist(self) -> int:
        """Length of the histogram input: H, S and V histograms of ``bins`` each."""
        return 3 * self.bins

    @classmethod
    def from_params(cls, params: Mapping) -> TrainSettings:
        """The settings of a params dict (config keys); an unknown key is an error,
        a missing one takes its default."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown CNN setting(s) {unknown}; known: {sorted(known)}")
        values = {}
        for f in dataclasses.fields(cls):
            if f.name in params:
                values[f.name] = _typed(f.name, params[f.name], f.type)
        return cls(**values)

    @classmethod
    def from_config(cls, config: Mapping, variant: str) -> TrainSettings:
        """The variant's settings: ``cnn.base`` with its overrides, ``bins`` defaulting
        to ``histogram_bins``, plus the run's protocol (``cnn.select_on_validation``)."""
        cnn = config["cnn"]
        if variant not in cnn["variants"]:
            raise KeyError(
                f"unknown CNN variant {variant!r}; configured: {sorted(cnn['variants'])}"
            )
        params = {"bins": config["histogram_bins"]}
        if "select_on_validation" in cnn:
            params["select_on_validation"] = cnn["select_on_validation"]
        params |= dict(cnn.get("base") or {}) | dict(cnn["variants"][variant])
        try:
            return cls.from_params(params)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"config cnn.variants.{variant} (merged over cnn.base): {exc}"
            ) from exc

    def as_params(self) -> dict:
        """Every setting as JSON types (lists, not tuples), keys sorted: the rule's
        params, the checkpoint key, metrics.json."""
        out = {}
        for name in sorted(f.name for f in dataclasses.fields(self)):
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    def replace(self, **changes) -> TrainSettings:
        return dataclasses.replace(self, **changes)


def _check_choice(name: str, value, choices: tuple) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")


def _typed(name: str, value, annotation: str):
    """A config value as the field's type (YAML gives lists and ints where floats are due)."""
    if annotation.startswith("tuple"):
        if value is None and "None" in annotation:
            return None
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be a list, got {value!r}")
        return tuple(str(v) if annotation == "tuple[str, ...]" else int(v) for v in value)
    if annotation == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    if annotation == "int":
        if isinstance(value, bool) or int(value) != value:
            raise ValueError(f"{name} must be an integer, got {value!r}")
        return int(value)
    if annotation == "float":
        if isinstance(value, bool):
            raise ValueError(f"{name} must be a number, got {value!r}")
        return float(value)
    return value
