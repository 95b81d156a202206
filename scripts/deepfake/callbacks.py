"""Callbacks of the training loop: epoch sync, history rows, progress lines, EMA swaps,
precise BatchNorm statistics."""

from __future__ import annotations

import logging
import time

import keras
import numpy as np

HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"]


def current_lr(model: keras.Model) -> float:
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


class SyncEpoch(keras.callbacks.Callback):
    """Tells the feeder which epoch runs (its order and augmentation depend on it)."""

    def __init__(self, data):
        super().__init__()
        self.data = data

    def on_epoch_begin(self, epoch, logs=None):
        self.data.epoch = epoch


class EpochLog(keras.callbacks.Callback):
    """Collects one history row per epoch and logs it as soon as the epoch ends.

    ``lr`` is the learning rate at the start of the epoch (before any plateau
    reduction decided at its end); ``epoch`` is 1-based; val_loss and
    val_accuracy are NaN when the epoch was not validated (clean protocol).
    """

    def __init__(self, rows: list[dict], epochs: int, n_train: int, log: logging.Logger):
        super().__init__()
        self.rows = rows
        self.epochs = epochs
        self.n_train = n_train
        self.log = log

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._lr = current_lr(self.model)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        seconds = time.perf_counter() - self._start
        row = {"epoch": epoch + 1}
        for key in HISTORY_COLUMNS[1:5]:
            row[key] = float(logs[key]) if key in logs else float("nan")
        row["lr"] = self._lr
        row["seconds"] = seconds
        self.rows.append(row)
        self.log.info(
            "epoch %d/%d loss %.4f accuracy %.4f val_loss %.4f val_accuracy %.4f "
            "lr %.3g %.1f s (%.0f train images/s incl. validation)",
            epoch + 1,
            self.epochs,
            row["loss"],
            row["accuracy"],
            row["val_loss"],
            row["val_accuracy"],
            row["lr"],
            seconds,
            self.n_train / seconds,
        )


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class Progress(keras.callbacks.Callback):
    """One log line inside an epoch at most every ``every`` seconds: batches
    done, training images/s so far in the epoch, ETA of the epoch and of the run
    (the remaining epochs at the same rate, validation not included).

    Plain lines, no carriage returns, so log files stay readable.
    """

    def __init__(
        self,
        log: logging.Logger,
        epochs: int,
        num_batches: int,
        batch_size: int,
        n_train: int,
        every: float = 15.0,
    ):
        super().__init__()
        self.log = log
        self.epochs = epochs
        self.num_batches = num_batches
        self.batch_size = batch_size
        self.n_train = n_train
        self.every = float(every)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._start = self._last = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        if now - self._last < self.every or batch + 1 >= self.num_batches:
            return
        self._last = now
        images = min((batch + 1) * self.batch_size, self.n_train)
        rate = images / max(now - self._start, 1e-9)
        left_epoch = (self.n_train - images) / rate
        left_run = left_epoch + (self.epochs - self._epoch - 1) * self.n_train / rate
        self.log.info(
            "epoch %d/%d batch %d/%d, %.0f images/s, epoch ETA %s, run ETA %s",
            self._epoch + 1,
            self.epochs,
            batch + 1,
            self.num_batches,
            rate,
            _duration(left_epoch),
            _duration(left_run),
        )


# --------------------------------------------------------------------------- EMA


def ema_variables(model: keras.Model) -> list | None:
    """The optimizer's moving averages of the trainable variables (same order),
    or None without ``use_ema``."""
    optimizer = model.optimizer
    if not getattr(optimizer, "use_ema", False):
        return None
    return list(optimizer._model_variables_moving_average)


def swap_ema(model: keras.Model) -> None:
    """Exchange the trainable variables with their moving averages, bit-exactly
    (keras' SwapEMAWeights swaps by additions on TensorFlow, which rounds)."""
    averages = ema_variables(model)
    for var, avg in zip(model.trainable_variables, averages, strict=True):
        raw = np.array(keras.ops.convert_to_numpy(var))
        var.assign(keras.ops.convert_to_numpy(avg))
        avg.assign(raw)


def finalize_ema(model: keras.Model) -> None:
    """Give the trainable variables the values of their moving averages, as
    copies: keras' own finalize (run at the end of ``fit``) makes each variable
    share its average's buffer, which JAX may later donate and delete."""
    for var, avg in zip(model.trainable_variables, ema_variables(model), strict=True):
        var.assign(np.array(keras.ops.convert_to_numpy(avg)))


class EMAEvaluation(keras.callbacks.Callback):
    """Validation during ``fit`` runs with the averaged weights."""

    def on_test_begin(self, logs=None):
        swap_ema(self.model)

    def on_test_end(self, logs=None):
        swap_ema(self.model)


class EMAEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping whose best weights are the averaged weights (the ones the
    epoch was validated with); the raw weights are back when it returns."""

    def on_epoch_end(self, epoch, logs=None):
        swap_ema(self.model)
        try:
            super().on_epoch_end(epoch, logs)
        finally:
            swap_ema(self.model)


# --------------------------------------------------------------- precise BN


def _layers_of(layer, kind) -> list:
    """Every layer of type ``kind`` inside ``layer``, nested models included."""
    found = []
    for sub in getattr(layer, "layers", []):
        found += [sub] if isinstance(sub, kind) else _layers_of(sub, kind)
    return found


def recalibrate_batchnorm(model: keras.Model, x: dict, batch_size: int) -> None:
    """Recompute every BatchNormalization layer's moving statistics for the
    current weights: the mean, over the batches of ``x`` run in training mode,
    of the batch statistics ("precise BN"). During training the moving averages
    (momentum 0.9: the last ~10 batches) mix statistics of weights that have
    since moved; at a high learning rate the network scored with them is not the
    one trained, and validation swings from epoch to epoch.

    Dropout is off meanwhile (rate 0: no random draw, so the training that
    follows is the same as without this call); the trainable weights are not
    touched; momenta and rates are put back.
    """
    norms = _layers_of(model, keras.layers.BatchNormalization)
    dropouts = _layers_of(model, keras.layers.Dropout)
    if not norms:
        return
    momenta, rates = [n.momentum for n in norms], [d.rate for d in dropouts]
    n_images = len(next(iter(x.values())))
    try:
        for d in dropouts:
            d.rate = 0.0
        for i, start in enumerate(range(0, n_images, batch_size)):
            for n in norms:
                n.momentum = i / (i + 1)  # running mean: batch i weighs 1 / (i + 1)
            model({k: v[start : start + batch_size] for k, v in x.items()}, training=True)
    finally:
        for n, m in zip(norms, momenta, strict=True):
            n.momentum = m
        for d, r in zip(dropouts, rates, strict=True):
            d.rate = r


class PreciseBatchNorm(keras.callbacks.Callback):
    """Before each validation inside ``fit`` (after EMAEvaluation has put the
    averaged weights in), recompute BatchNorm's statistics for the weights about
    to be scored. Training itself normalises with batch statistics, so its steps
    are unchanged."""

    def __init__(self, x: dict, batch_size: int):
        super().__init__()
        self.x, self.batch_size = x, int(batch_size)

    def on_test_begin(self, logs=None):
        recalibrate_batchnorm(self.model, self.x, self.batch_size)
