"""Training loop of the dual-input CNN: protocol, callbacks, resume, outputs.

Keras 3 API only (no ``tensorflow`` import), so it runs on any keras backend;
TensorBoard logging is skipped, with a warning, when the tensorflow or the
tensorboard package is missing (keras writes the summaries through tf.summary).

The pieces: :mod:`deepfake.feeder` (batches, online augmentation, model
inputs, test-time augmentation), :mod:`deepfake.optim` (optimizer, loss,
schedules, the training options' defaults), :mod:`deepfake.checkpoint` (resume
after a kill), :mod:`deepfake.callbacks` (history rows, progress lines, EMA).

Two protocols (``select_on_validation``):

- true, the report's: ReduceLROnPlateau (schedule plateau) and EarlyStopping
  monitor val_accuracy, and the best epoch's weights are restored;
- false, the clean one: ``fit`` gets no validation data and no callback reads
  it (plateau, if chosen, monitors the training loss; no early stopping), the
  last epoch's weights are kept, and validation is scored once, at the end.

With ``ema`` the averaged weights are the ones validated (every epoch under
the report protocol), restored as best, scored and saved. With ``precise_bn``
BatchNorm's statistics are recomputed for the weights being scored: before each
validation of the report protocol, and once at the end of a clean run.
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
from deepfake.feeder import PREDICT_BATCH, ArrayBatches, inputs, one_hot, predict_proba
from deepfake.io import atomic_path, save_csv
from deepfake.model import build_from_params
from deepfake.optim import compile_model, setting

__all__ = [
    "HISTORY_COLUMNS",
    "PREDICT_BATCH",
    "ArrayBatches",
    "Checkpoint",
    "TrainResult",
    "TrainState",
    "check_split",
    "inputs",
    "predict_proba",
    "run_key",
    "train_cnn",
    "write_history",
]

PROGRESS_SECONDS = 15.0
CALIBRATION_STREAM = 1  # default_rng([seed, 1]) picks the precise-BN images

_log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    model: keras.Model
    history: pd.DataFrame
    val_proba: np.ndarray
    summary: dict
    checkpoint: Checkpoint

    def write_outputs(
        self, model: str | Path, history: str | Path, tensorboard: str | Path
    ) -> None:
        """Write model.keras, history.csv and the TensorBoard folder (each atomically)."""
        with atomic_path(Path(model)) as tmp:
            self.model.save(tmp)
        write_history(history, self.history)
        _publish_dir(self.checkpoint.tensorboard_dir, Path(tensorboard))

    def remove_checkpoint(self) -> None:
        self.checkpoint.remove()


def _tensorboard(log_dir: Path, log: logging.Logger) -> keras.callbacks.Callback | None:
    """keras' TensorBoard callback, or None when its summary writer is unavailable.

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
        return None
    return keras.callbacks.TensorBoard(log_dir=str(log_dir))


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


def _n_freq(train: Mapping[str, np.ndarray]) -> int | None:
    if "freq" not in train:
        return None
    freq = np.asarray(train["freq"])
    if freq.ndim != 2:
        raise ValueError(f"train: freq must be 2-D (N, D), got shape {freq.shape}")
    return int(freq.shape[1])


def _build(params: Mapping, n_hist: int, n_freq: int | None) -> keras.Model:
    if n_freq is None:  # the model helper's n_freq argument only when there is a freq input
        return build_from_params(params, n_hist)
    return build_from_params(params, n_hist, n_freq=n_freq)


def train_cnn(
    train: Mapping[str, np.ndarray],
    val: Mapping[str, np.ndarray],
    params: Mapping,
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
    params: the ``cnn`` settings (config.yaml's cnn.base merged with a variant,
        and cnn.select_on_validation); options missing from it take
        :data:`deepfake.optim.TRAIN_DEFAULTS`.
    out_dir: when given, ``model.keras``, ``history.csv`` and ``tensorboard/``
        are written there (else call ``result.write_outputs`` before the
        checkpoint is removed).
    work_dir: where the per-epoch checkpoint lives (outside the declared outputs).
    callbacks: extra callbacks, run after the built-in ones (tests use this).
    cleanup: delete the checkpoint at the end; pass False when more outputs
        still have to be written, then call ``result.remove_checkpoint()``.
    progress_seconds: least interval between two progress lines inside an epoch.
    """
    log = log or _log
    params = dict(params)
    n_hist = 3 * int(params["bins"])
    n_freq = _n_freq(train)
    check_split("train", train, n_hist, n_freq)
    check_split("validation", val, n_hist, n_freq)
    select = bool(setting(params, "select_on_validation"))
    tta = [str(t) for t in setting(params, "tta")]
    ema = float(setting(params, "ema")) > 0
    precise_bn = int(setting(params, "precise_bn"))
    epochs = int(params["epochs"])
    batch_size = int(params["batch_size"])
    seed = int(params["seed"])
    n_train, n_val = len(train["label"]), len(val["label"])

    checkpoint = Checkpoint(work_dir, run_key(params, train, val), log)
    checkpoint.remove_stale()
    state = checkpoint.load()

    calibration = None
    if precise_bn > 0:  # a fixed, unaugmented sample of the training images
        rng = np.random.default_rng([seed, CALIBRATION_STREAM])
        pick = np.sort(rng.permutation(n_train)[:precise_bn])
        calibration = {k: v[pick] for k, v in inputs(train).items()}

    keras.utils.set_random_seed(seed)
    data = ArrayBatches.from_params(train, params)
    model = _build(params, n_hist, n_freq)
    compile_model(model, params, data.num_batches)
    if params.get("jit_compile") and not model.jit_compile:
        # keras does so on TensorFlow under op determinism: configure(jit_compile=True) avoids it.
        log.warning("jit_compile requested but keras turned it off for this model/backend")
    log.info(
        "model %s: %d parameters; %d training, %d validation images; batch %d, %d epochs; "
        "%s protocol",
        model.name,
        model.count_params(),
        n_train,
        n_val,
        batch_size,
        epochs,
        "report (validation picks the epoch)" if select else "clean (validation scored once)",
    )
    if state is not None:
        restore_model_state(model, state)
        log.info("resuming from checkpoint %s after epoch %d", checkpoint.path, state.epoch)

    rows: list[dict] = list(state.rows) if state else []
    early_stopping = None
    if select:
        stopping = EMAEarlyStopping if ema else keras.callbacks.EarlyStopping
        early_stopping = stopping(
            monitor="val_accuracy",
            mode="max",
            patience=int(params["early_stopping_patience"]),
            restore_best_weights=True,
        )
    plateau = None
    if params.get("schedule", "plateau") == "plateau":
        plateau = keras.callbacks.ReduceLROnPlateau(
            monitor="val_accuracy" if select else "loss",
            mode="max" if select else "min",
            patience=int(params["plateau_patience"]),
            factor=float(params["plateau_factor"]),
        )
    cbs: list[keras.callbacks.Callback] = [
        SyncEpoch(data),
        EpochLog(rows, epochs, n_train, log),
        Progress(log, epochs, data.num_batches, batch_size, n_train, every=progress_seconds),
    ]
    if ema and select:
        cbs.append(EMAEvaluation())
    if calibration is not None and select:  # after EMAEvaluation: the averaged weights' statistics
        cbs.append(PreciseBatchNorm(calibration, batch_size))
    tensorboard = _tensorboard(checkpoint.tensorboard_dir, log)
    if tensorboard is not None:
        cbs.append(tensorboard)
    cbs.extend(cb for cb in (early_stopping, plateau) if cb is not None)
    cbs.append(ResumeCheckpoint(checkpoint, rows, early_stopping, plateau, epochs, state))
    cbs.extend(callbacks)

    if state is not None and state.finished:
        log.info("checkpoint is of a finished run: restoring its final weights")
        if select and state.best_weights is not None:
            model.set_weights(state.best_weights)
        elif ema:  # what fit does at its end: the averages replace the weights
            finalize_ema(model)
    else:
        fit_validation = {}
        if select:
            fit_validation = {
                "validation_data": (inputs(val), one_hot(val["label"])),
                "validation_batch_size": PREDICT_BATCH,
            }
        model.fit(
            data,
            epochs=epochs,
            initial_epoch=state.epoch if state else 0,
            callbacks=cbs,
            shuffle=False,  # ArrayBatches shuffles, reproducibly per epoch
            verbose=0,
            **fit_validation,
        )
        if ema and not select:  # fit did so already, sharing buffers (see finalize_ema)
            finalize_ema(model)
    if calibration is not None and not select:  # the final weights' own statistics
        recalibrate_batchnorm(model, calibration, batch_size)
    if select:
        best_epoch = int(
            state.early_stopping["best_epoch"]
            if state is not None and state.finished
            else early_stopping.best_epoch
        )
        best_epoch += 1
    else:
        best_epoch = len(rows)

    history = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    val_proba = predict_proba(model, val, tta=tta)
    val_accuracy = float(np.mean(val_proba.argmax(axis=1) == val["label"]))
    train_seconds = float(history["seconds"].sum())
    summary = {
        "val_accuracy": val_accuracy,
        "protocol": "report" if select else "clean",
        "epochs_run": len(history),
        "best_epoch": best_epoch,
        "train_seconds": train_seconds,
        "seconds_per_epoch": train_seconds / max(1, len(history)),
        "n_params": int(model.count_params()),
        "n_train": n_train,
        "n_val": n_val,
        "tta": tta,
        "backend": keras.backend.backend(),
        "resumed_after_epoch": state.epoch if state else 0,
    }
    log.info(
        "%s epoch %d of %d: val_accuracy %.4f%s; %.1f s training",
        "best" if select else "last",
        best_epoch,
        len(history),
        val_accuracy,
        f" (TTA {'+'.join(tta)})" if tta else "",
        train_seconds,
    )

    result = TrainResult(model, history, val_proba, summary, checkpoint)
    if out_dir is not None:
        out_dir = Path(out_dir)
        result.write_outputs(
            out_dir / "model.keras", out_dir / "history.csv", out_dir / "tensorboard"
        )
    if cleanup:
        result.remove_checkpoint()
    return result
