"""Training loop of the dual-input CNN: protocol, callbacks, resume, outputs.

Keras 3 API only (no ``tensorflow`` import), so it runs on any keras backend;
TensorBoard logging is skipped, with a warning, when the tensorflow or the
tensorboard package is missing (keras writes the summaries through tf.summary).

The pieces: :mod:`deepfake.feeder` (batches, online augmentation, model
inputs, test-time augmentation), :mod:`deepfake.optim` (optimizer, loss,
schedules), :mod:`deepfake.checkpoint` (resume after a kill),
:mod:`deepfake.callbacks` (history rows, progress lines, EMA), and here the two
protocols (``select_on_validation``), one object each with the same interface:

- :class:`ReportProtocol`, the report's: ReduceLROnPlateau (schedule plateau)
  and EarlyStopping monitor val_accuracy, and the best epoch's weights are
  restored;
- :class:`CleanProtocol`: ``fit`` gets no validation data and no callback reads
  it (plateau, if chosen, monitors the training loss; no early stopping), the
  last epoch's weights are kept, and validation is scored once, at the end.

With ``ema`` the averaged weights are the ones validated (every epoch under
the report protocol), restored as best, scored and saved. With ``precise_bn``
BatchNorm's statistics are recomputed for the weights being scored: before each
validation of the report protocol, and once at the end of a clean run (over
whole training images, so a run trained on crops gets full-size statistics).
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from deepfake import IMAGE_SIZE, layout
from deepfake.backend import cpu_flags, resolve_execution
from deepfake.callbacks import (
    HISTORY_COLUMNS,
    EMAEarlyStopping,
    EMAEvaluation,
    EpochLog,
    PreciseBatchNorm,
    Progress,
    SyncEpoch,
    finalize_ema,
    recalibrate_batchnorm,
)
from deepfake.checkpoint import (
    Checkpoint,
    ResumeCheckpoint,
    TrainState,
    restore_model_state,
    run_key,
)
from deepfake.cnn_model import CnnModel
from deepfake.feeder import PREDICT_BATCH, ArrayBatches, inputs, one_hot
from deepfake.io import save_csv
from deepfake.metrics import compute_text
from deepfake.networks import build_model, train_flops_per_image
from deepfake.optim import compile_model
from deepfake.settings import TrainSettings

PROGRESS_SECONDS = 15.0
# The CPU flags that decide the fast path, recorded with every CNN's metrics.
CPU_FLAGS_OF_NOTE = frozenset({"avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"})
CALIBRATION_STREAM = 1  # default_rng([seed, 1]) picks the precise-BN images

_log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    model: CnnModel
    history: pd.DataFrame
    val_proba: np.ndarray
    summary: dict
    checkpoint: Checkpoint

    def write_outputs(self, folder: str | Path, **card) -> None:
        """Write what training made into the model folder, each file atomically: the
        model (model.keras, model.json with ``card``: what it was trained on, its
        temperature), history.csv and tensorboard/."""
        folder = Path(folder)
        self.model.save(folder, **card)
        write_history(folder / layout.HISTORY, self.history)
        _publish_dir(self.checkpoint.tensorboard_dir, folder / layout.TENSORBOARD)

    def remove_checkpoint(self) -> None:
        self.checkpoint.remove()


# --------------------------------------------------------------------------- protocols


class ReportProtocol:
    """Validation monitors the run: plateau and early stopping on val_accuracy, the
    best epoch's (averaged) weights restored."""

    name = "report"
    description = "report (validation picks the epoch)"

    def __init__(self, s: TrainSettings, calibration: dict | None):
        stopping = EMAEarlyStopping if s.ema > 0 else keras.callbacks.EarlyStopping
        self.early_stopping = stopping(
            monitor="val_accuracy",
            mode="max",
            patience=s.early_stopping_patience,
            restore_best_weights=True,
        )
        self.plateau = _plateau(s, monitor="val_accuracy", mode="max")
        self.before_validation = [EMAEvaluation()] if s.ema > 0 else []
        if calibration is not None:  # after EMAEvaluation: the averaged weights' statistics
            self.before_validation.append(PreciseBatchNorm(calibration, s.batch_size))

    @property
    def monitors(self) -> list:
        return [cb for cb in (self.early_stopping, self.plateau) if cb is not None]

    def fit_arguments(self, val: Mapping[str, np.ndarray]) -> dict:
        return {
            "validation_data": (inputs(val), one_hot(val["label"])),
            "validation_batch_size": PREDICT_BATCH,
        }

    def restore_finished(self, model: keras.Model, state: TrainState) -> None:
        if state.best_weights is not None:
            model.set_weights(state.best_weights)

    def after_fit(self, model: keras.Model) -> None:
        """Nothing: EarlyStopping has restored the best weights."""

    def best_epoch(self, state: TrainState | None, rows: list[dict]) -> int:
        if state is not None and state.finished:
            return int(state.early_stopping["best_epoch"]) + 1
        return int(self.early_stopping.best_epoch) + 1


class CleanProtocol:
    """A fixed schedule: nothing reads validation while training; the last epoch's
    (averaged) weights are kept, with their own BatchNorm statistics when asked."""

    name = "clean"
    description = "clean (validation scored once)"
    early_stopping = None
    before_validation: list = []

    def __init__(self, s: TrainSettings, calibration: dict | None):
        self.plateau = _plateau(s, monitor="loss", mode="min")
        self.ema = s.ema > 0
        self.calibration, self.batch_size = calibration, s.batch_size

    @property
    def monitors(self) -> list:
        return [] if self.plateau is None else [self.plateau]

    def fit_arguments(self, val: Mapping[str, np.ndarray]) -> dict:
        return {}

    def restore_finished(self, model: keras.Model, state: TrainState) -> None:
        self.after_fit(model)

    def after_fit(self, model: keras.Model) -> None:
        if self.ema:  # what fit does at its end, without sharing buffers (see finalize_ema)
            finalize_ema(model)
        if self.calibration is not None:  # the final weights' own statistics
            recalibrate_batchnorm(model, self.calibration, self.batch_size)

    def best_epoch(self, state: TrainState | None, rows: list[dict]) -> int:
        return len(rows)


def _plateau(s: TrainSettings, monitor: str, mode: str):
    if s.schedule != "plateau":
        return None
    return keras.callbacks.ReduceLROnPlateau(
        monitor=monitor, mode=mode, patience=s.plateau_patience, factor=s.plateau_factor
    )


def protocol(s: TrainSettings, calibration: dict | None):
    """The settings' protocol object: report (``select_on_validation``) or clean."""
    return (ReportProtocol if s.select_on_validation else CleanProtocol)(s, calibration)


# --------------------------------------------------------------------------- helpers


def _tensorboard(log_dir: Path, log: logging.Logger) -> list[keras.callbacks.Callback]:
    """[keras' TensorBoard callback], or [] when its summary writer is unavailable.

    keras writes the summaries through ``tf.summary``, which needs both the
    tensorflow and the tensorboard packages (tensorflow-cpu does not pull in
    tensorboard); a GPU node may also run JAX or PyTorch without TensorFlow.
    """
    missing = [m for m in ("tensorflow", "tensorboard") if importlib.util.find_spec(m) is None]
    if missing:
        log.warning(
            "no TensorBoard logs: %s not installed (backend %s)",
            " and ".join(missing),
            keras.backend.backend(),
        )
        return []
    return [keras.callbacks.TensorBoard(log_dir=str(log_dir))]


def _publish_dir(src: Path, dst: Path) -> None:
    """Copy directory ``src`` to ``dst`` (replacing it) via a temporary sibling."""
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if src.is_dir():
        shutil.copytree(src, tmp)
    else:
        tmp.mkdir(parents=True)
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)


def write_history(path: str | Path, history: pd.DataFrame) -> None:
    # 6 significant digits, not io's 4 decimals: a reduced lr is e.g. 0.000125
    save_csv(path, history, float_format="%.6g")


def check_split(
    name: str, split: Mapping[str, np.ndarray], n_hist: int, n_freq: int | None = None
) -> None:
    """Refuse a split whose arrays do not fit the model (shapes, types, presence of freq)."""
    n = len(split["label"])
    image, hist = split["image"], split["hist"]
    if image.dtype != np.uint8 or image.shape[1:] != (100, 100, 3) or len(image) != n:
        raise ValueError(
            f"{name}: image must be uint8 (N,100,100,3), got {image.dtype} {image.shape}"
        )
    if hist.shape != (n, n_hist):
        raise ValueError(f"{name}: hist must be ({n}, {n_hist}), got {hist.shape}")
    if n_freq is None:
        if "freq" in split:
            raise ValueError(f"{name}: has a freq input, but the training split has none")
    elif "freq" not in split or np.shape(split["freq"]) != (n, n_freq):
        got = np.shape(split["freq"]) if "freq" in split else "none"
        raise ValueError(f"{name}: freq must be ({n}, {n_freq}), got {got}")


def n_freq_of(train: Mapping[str, np.ndarray]) -> int | None:
    """The length of the training split's fingerprint rows (None: no fingerprint)."""
    if "freq" not in train:
        return None
    freq = np.asarray(train["freq"])
    if freq.ndim != 2:
        raise ValueError(f"train: freq must be 2-D (N, D), got shape {freq.shape}")
    return int(freq.shape[1])


def calibration_sample(train: Mapping[str, np.ndarray], s: TrainSettings) -> dict | None:
    """The fixed, unaugmented, whole training images that precise BN recomputes over."""
    if s.precise_bn <= 0:
        return None
    rng = np.random.default_rng([s.seed, CALIBRATION_STREAM])
    pick = np.sort(rng.permutation(len(train["label"]))[: s.precise_bn])
    return {k: v[pick] for k, v in inputs(train).items()}


def compute(s: TrainSettings, n_train: int, epochs_run: int, n_freq: int | None) -> dict:
    """The training compute of ``epochs_run`` epochs: image passes and FLOPs (the
    forward and backward passes at the size each epoch trained on)."""
    full = train_flops_per_image(s, n_freq, IMAGE_SIZE)
    crop_epochs = min(epochs_run, s.epochs - s.full_size_epochs) if s.crop else 0
    cropped = train_flops_per_image(s, n_freq, s.crop) if s.crop else full
    flops = n_train * (crop_epochs * cropped + (epochs_run - crop_epochs) * full)
    return {
        "train_image_passes": n_train * epochs_run,
        "train_flops_per_image": {str(s.crop or IMAGE_SIZE): cropped, str(IMAGE_SIZE): full},
        "train_pflop": flops / 1e15,
    }


# --------------------------------------------------------------------------- the loop


def train_cnn(
    train: Mapping[str, np.ndarray],
    val: Mapping[str, np.ndarray],
    settings: TrainSettings,
    out_dir: str | Path | None,
    work_dir: str | Path,
    log: logging.Logger | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    cleanup: bool = True,
    progress_seconds: float = PROGRESS_SECONDS,
) -> TrainResult:
    """Train (or resume training) the CNN; return the model, history and validation scores.

    train, val: ``{"image": uint8 (N,100,100,3), "hist": float32 (N, 3*bins),
        "label": int (N,)}``, optionally ``"freq": float32 (N, D)`` (both or neither).
    settings: the variant's settings (``mixed_precision`` and ``jit_compile`` ``auto``
        are resolved here, :func:`deepfake.backend.resolve_execution`).
    out_dir: when given, the model folder, history.csv and tensorboard/ are written
        there (:meth:`TrainResult.write_outputs`; else call it before the
        checkpoint is removed).
    work_dir: where the per-epoch checkpoint lives (outside the declared outputs).
    callbacks: extra callbacks, run after the built-in ones (tests use this).
    cleanup: delete the checkpoint at the end; pass False when more outputs
        still have to be written, then call ``result.remove_checkpoint()``.
    progress_seconds: least interval between two progress lines inside an epoch.
    """
    log = log or _log
    mixed, jit = resolve_execution(settings.mixed_precision, settings.jit_compile)
    s = settings.replace(mixed_precision=mixed, jit_compile=jit)
    n_freq = n_freq_of(train)
    for name, split in (("train", train), ("validation", val)):
        check_split(name, split, s.n_hist, n_freq)
    checkpoint = Checkpoint(work_dir, run_key(s.as_params(), train, val), log)
    checkpoint.remove_stale()
    state = checkpoint.load()

    run = protocol(s, calibration_sample(train, s))
    keras.utils.set_random_seed(s.seed)
    data = ArrayBatches.from_settings(train, s)
    network = _compiled_network(s, n_freq, data.num_batches, log)
    log.info(
        "model %s: %d parameters; %d training, %d validation images; batch %d, %d epochs; "
        "%s protocol; %s",
        *(network.name, network.count_params(), len(train["label"]), len(val["label"])),
        *(s.batch_size, s.epochs, run.description, _precision(s)),
    )
    rows: list[dict] = list(state.rows) if state else []
    if state is not None:
        restore_model_state(network, state)
        log.info("resuming from checkpoint %s after epoch %d", checkpoint.path, state.epoch)
    if state is not None and state.finished:
        log.info("checkpoint is of a finished run: restoring its final weights")
        run.restore_finished(network, state)
    else:
        cbs = [
            SyncEpoch(data),
            EpochLog(rows, s.epochs, len(train["label"]), log),
            Progress(
                log,
                s.epochs,
                data.num_batches,
                s.batch_size,
                len(train["label"]),
                every=progress_seconds,
            ),  # fmt: skip
            *run.before_validation,
            *_tensorboard(checkpoint.tensorboard_dir, log),
            *run.monitors,
            ResumeCheckpoint(checkpoint, rows, run.early_stopping, run.plateau, s.epochs, state),
            *callbacks,
        ]
        initial_epoch = state.epoch if state else 0
        network.fit(data, epochs=s.epochs, initial_epoch=initial_epoch, callbacks=cbs,
                    shuffle=False, verbose=0, **run.fit_arguments(val))  # fmt: skip
        run.after_fit(network)

    model = CnnModel.from_settings(network, s)
    history = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    val_proba = model.proba_from_inputs(val)
    summary = _summary(s, run, state, history, val_proba, val, network, train, n_freq)
    log.info(
        "%s epoch %d of %d: val_accuracy %.4f%s; %.1f s training, %s",
        *("best" if s.select_on_validation else "last", summary["best_epoch"], len(history)),
        summary["val_accuracy"],
        f" (TTA {'+'.join(s.tta)})" if s.tta else "",
        *(summary["train_seconds"], compute_text(summary["train_pflop"])),
    )
    result = TrainResult(model, history, val_proba, summary, checkpoint)
    if out_dir is not None:
        result.write_outputs(out_dir)
    if cleanup:
        result.remove_checkpoint()
    return result


def _precision(s: TrainSettings) -> str:
    return "mixed_bfloat16" if s.mixed_precision else "float32"


def _compiled_network(s: TrainSettings, n_freq, steps_per_epoch: int, log) -> keras.Model:
    """The variant's network, built (for any image size when it trains on crops) and
    compiled."""
    network = build_model(s, n_freq, image_size=None if s.crop else IMAGE_SIZE)
    compile_model(network, s, steps_per_epoch)
    if s.jit_compile and not network.jit_compile:
        # keras does so on TensorFlow under op determinism: configure(jit_compile=True) avoids it.
        log.warning("jit_compile requested but keras turned it off for this model/backend")
    return network


def _summary(s, run, state, history, val_proba, val, network, train, n_freq) -> dict:
    """The run's figures for metrics.json."""
    n_train = len(train["label"])
    train_seconds = float(history["seconds"].sum())
    return {
        "val_accuracy": float(np.mean(val_proba.argmax(axis=1) == val["label"])),
        "protocol": run.name,
        "epochs_run": len(history),
        "best_epoch": run.best_epoch(state, history.to_dict("records")),
        "train_seconds": train_seconds,
        "seconds_per_epoch": train_seconds / max(1, len(history)),
        "n_params": int(network.count_params()),
        "n_train": n_train,
        "n_val": len(val["label"]),
        "tta": list(s.tta),
        "backend": keras.backend.backend(),
        "precision": _precision(s),
        "jit_compile": bool(network.jit_compile),
        "cpu_flags": sorted(cpu_flags() & CPU_FLAGS_OF_NOTE),
        "resumed_after_epoch": state.epoch if state else 0,
        **compute(s, n_train, len(history), n_freq),
    }
