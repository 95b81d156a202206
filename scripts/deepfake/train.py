"""Training loop of the dual-input CNN: in-memory batches, callbacks, resume, prediction.

Keras 3 API only (no ``tensorflow`` import), so it runs on any keras backend;
TensorBoard logging is skipped, with a warning, when the tensorflow or the
tensorboard package is missing (keras writes the summaries through tf.summary).

Data path: the uint8 arrays stay in memory; :class:`ArrayBatches` (a keras
PyDataset) gathers each batch. It measured as fast as ``model.fit`` on numpy
dicts (and as a pre-built batch fed again and again), and unlike the numpy path
its shuffle order is reproducible after a resume.

Resume. At the end of every epoch the whole training state (model variables
including dropout seeds, optimizer variables including the learning rate and
step count, EarlyStopping's and ReduceLROnPlateau's counters and best weights,
and the history rows so far) is written to ONE ``.npz`` file in ``work_dir``,
through a temporary file renamed over the previous checkpoint, so a job killed
at any moment (SIGKILL included) leaves the last completed epoch's checkpoint
intact. Its name carries a hash of the params and of the training and
validation data: a changed config or data set never resumes a stale run (stale
checkpoints are deleted). Batch order is a function of (seed, epoch) only, so a
resumed run continues exactly as the uninterrupted run would have.
``keras.callbacks.BackupAndRestore`` was not used: it writes the weights file
in place and the epoch counter in a second file (not atomic, not consistent
after a kill between the two), and it keeps neither the callbacks' state
(EarlyStopping's best weights and patience) nor the history rows.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import math
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from deepfake.io import atomic_path, save_csv
from deepfake.model import build_from_params, compile_model

HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"]
PREDICT_BATCH = 256
CHECKPOINT_VERSION = 1

_log = logging.getLogger(__name__)


def inputs(split: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The model's input dict of a split (a tuple would be read as (x, y))."""
    return {"image": split["image"], "hist": split["hist"]}


def predict_proba(model: keras.Model, split: Mapping[str, np.ndarray]) -> np.ndarray:
    """Class probabilities, float32 (N, 5)."""
    proba = model.predict(inputs(split), batch_size=PREDICT_BATCH, verbose=0)
    return np.asarray(proba, dtype=np.float32)


class ArrayBatches(keras.utils.PyDataset):
    """Shuffled mini-batches of in-memory arrays; images stay uint8 until the model.

    The order of epoch ``e`` is ``default_rng([seed, e]).permutation(n)``: it
    does not depend on how many epochs ran in this process, so a resumed run
    sees the same batches as an uninterrupted one. :class:`_SyncEpoch` sets
    ``epoch`` at the start of each epoch (before its first batch is drawn).
    """

    def __init__(self, split: Mapping[str, np.ndarray], batch_size: int, seed: int):
        super().__init__(workers=1, use_multiprocessing=False)
        self.image = np.ascontiguousarray(split["image"], dtype=np.uint8)
        self.hist = np.ascontiguousarray(split["hist"], dtype=np.float32)
        self.label = np.ascontiguousarray(split["label"], dtype=np.int32)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.epoch = 0
        self._order_epoch: int | None = None
        self._order = np.arange(len(self.label))

    @property
    def num_batches(self) -> int:
        return math.ceil(len(self.label) / self.batch_size)

    def __len__(self) -> int:
        return self.num_batches

    def order(self, epoch: int) -> np.ndarray:
        if self._order_epoch != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            self._order = rng.permutation(len(self.label))
            self._order_epoch = epoch
        return self._order

    def __getitem__(self, index: int):
        idx = self.order(self.epoch)[index * self.batch_size : (index + 1) * self.batch_size]
        idx = np.sort(idx)  # sequential memory reads; the batch's content is unchanged
        return {"image": self.image[idx], "hist": self.hist[idx]}, self.label[idx]


class _SyncEpoch(keras.callbacks.Callback):
    def __init__(self, data: ArrayBatches):
        super().__init__()
        self.data = data

    def on_epoch_begin(self, epoch, logs=None):
        self.data.epoch = epoch


def _current_lr(model: keras.Model) -> float:
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


class EpochLog(keras.callbacks.Callback):
    """Collects one history row per epoch and logs it as soon as the epoch ends.

    ``lr`` is the learning rate at the start of the epoch (before any plateau
    reduction decided at its end); ``epoch`` is 1-based.
    """

    def __init__(self, rows: list[dict], epochs: int, n_train: int, log: logging.Logger):
        super().__init__()
        self.rows = rows
        self.epochs = epochs
        self.n_train = n_train
        self.log = log

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._lr = _current_lr(self.model)

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


# --------------------------------------------------------------------------- resume


def run_key(params: Mapping, train: Mapping, val: Mapping) -> str:
    """Hash of everything a checkpoint depends on: params, data, backend."""
    h = hashlib.blake2b(digest_size=8)
    h.update(json.dumps(dict(params), sort_keys=True, default=str).encode())
    h.update(f"{keras.backend.backend()} keras{keras.__version__.split('.')[0]}".encode())
    for split in (train, val):
        for name in ("image", "hist", "label"):
            a = np.ascontiguousarray(split[name])
            h.update(f"{name}{a.dtype}{a.shape}".encode())
            h.update(memoryview(a).cast("B"))
    return h.hexdigest()


@dataclass
class TrainState:
    """What a checkpoint holds (``epoch``: epochs completed so far)."""

    epoch: int
    finished: bool
    rows: list[dict]
    early_stopping: dict
    plateau: dict | None
    model_vars: list[np.ndarray]
    optimizer_vars: list[np.ndarray]
    best_weights: list[np.ndarray] | None


def _jsonable(x):
    if x is None:
        return None
    return float(x)


class Checkpoint:
    """The one checkpoint file of a run in ``work_dir``, keyed on :func:`run_key`."""

    def __init__(self, work_dir: str | Path, key: str, log: logging.Logger = _log):
        self.dir = Path(work_dir)
        self.key = key
        self.path = self.dir / f"checkpoint-{key}.npz"
        self.tensorboard_dir = self.dir / f"tensorboard-{key}"
        self.log = log

    def remove_stale(self) -> None:
        """Delete other runs' checkpoints and temporary files left by a killed write."""
        if not self.dir.is_dir():
            return
        for p in self.dir.iterdir():
            stale = p.name.startswith((".checkpoint-", "checkpoint-", "tensorboard-"))
            if stale and p not in (self.path, self.tensorboard_dir):
                self.log.info("removing stale checkpoint %s", p)
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)

    def remove(self) -> None:
        """Delete this run's checkpoint (after a successful finish)."""
        self.path.unlink(missing_ok=True)
        shutil.rmtree(self.tensorboard_dir, ignore_errors=True)
        try:
            self.dir.rmdir()  # only if empty
        except OSError:
            pass

    def save(self, state: TrainState) -> None:
        meta = {
            "version": CHECKPOINT_VERSION,
            "key": self.key,
            "epoch": state.epoch,
            "finished": state.finished,
            "rows": state.rows,
            "early_stopping": state.early_stopping,
            "plateau": state.plateau,
            "n_model": len(state.model_vars),
            "n_optimizer": len(state.optimizer_vars),
            "n_best": None if state.best_weights is None else len(state.best_weights),
        }
        arrays = {"meta": np.array(json.dumps(meta))}
        arrays |= {f"model_{i}": v for i, v in enumerate(state.model_vars)}
        arrays |= {f"optimizer_{i}": v for i, v in enumerate(state.optimizer_vars)}
        for i, v in enumerate(state.best_weights or []):
            arrays[f"best_{i}"] = v
        # Temporary file + rename: a kill mid-write leaves the previous checkpoint.
        with atomic_path(self.path) as tmp:
            np.savez(tmp, **arrays)

    def load(self) -> TrainState | None:
        if not self.path.exists():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                if meta.get("version") != CHECKPOINT_VERSION or meta.get("key") != self.key:
                    raise ValueError("checkpoint of another run")
                best = meta["n_best"]
                return TrainState(
                    epoch=int(meta["epoch"]),
                    finished=bool(meta["finished"]),
                    rows=list(meta["rows"]),
                    early_stopping=meta["early_stopping"],
                    plateau=meta["plateau"],
                    model_vars=[data[f"model_{i}"] for i in range(meta["n_model"])],
                    optimizer_vars=[data[f"optimizer_{i}"] for i in range(meta["n_optimizer"])],
                    best_weights=None if best is None else [data[f"best_{i}"] for i in range(best)],
                )
        except Exception as exc:  # unreadable: start afresh rather than fail the job
            self.log.warning("ignoring unreadable checkpoint %s (%s)", self.path, exc)
            return None


def _assign(variables: Sequence, values: Sequence[np.ndarray], what: str) -> None:
    if len(variables) != len(values):
        raise ValueError(f"checkpoint has {len(values)} {what} variables, model {len(variables)}")
    for var, value in zip(variables, values, strict=True):
        if tuple(var.shape) != tuple(value.shape):
            raise ValueError(f"checkpoint {what} variable {var.path}: shape {value.shape}")
        var.assign(value)


def restore_model_state(model: keras.Model, state: TrainState) -> None:
    """Model and optimizer variables from a checkpoint (the optimizer is built if needed)."""
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    _assign(model.variables, state.model_vars, "model")
    _assign(model.optimizer.variables, state.optimizer_vars, "optimizer")


class ResumeCheckpoint(keras.callbacks.Callback):
    """Writes the training state after every epoch; restores callback state on resume.

    Must come after EarlyStopping, ReduceLROnPlateau and EpochLog in the
    callback list: it reads their state at epoch end, and overrides their
    ``on_train_begin`` reset with the restored state.
    """

    def __init__(
        self,
        checkpoint: Checkpoint,
        rows: list[dict],
        early_stopping: keras.callbacks.EarlyStopping,
        plateau: keras.callbacks.ReduceLROnPlateau | None,
        epochs: int,
        resume: TrainState | None,
    ):
        super().__init__()
        self.checkpoint = checkpoint
        self.rows = rows
        self.es = early_stopping
        self.plateau = plateau
        self.epochs = epochs
        self.resume = resume

    def on_train_begin(self, logs=None):
        state = self.resume
        if state is None:
            return
        es = state.early_stopping
        self.es.wait = int(es["wait"])
        self.es.best = es["best"]
        self.es.best_epoch = int(es["best_epoch"])
        self.es.best_weights = state.best_weights
        if self.plateau is not None and state.plateau is not None:
            self.plateau.wait = int(state.plateau["wait"])
            self.plateau.best = state.plateau["best"]
            self.plateau.cooldown_counter = int(state.plateau["cooldown_counter"])

    def on_epoch_end(self, epoch, logs=None):
        model = self.model
        es = self.es
        state = TrainState(
            epoch=epoch + 1,
            finished=bool(model.stop_training) or epoch + 1 >= self.epochs,
            rows=list(self.rows),
            early_stopping={
                "wait": int(es.wait),
                "best": _jsonable(es.best),
                "best_epoch": int(es.best_epoch),
            },
            plateau=None
            if self.plateau is None
            else {
                "wait": int(self.plateau.wait),
                "best": _jsonable(self.plateau.best),
                "cooldown_counter": int(self.plateau.cooldown_counter),
            },
            model_vars=[keras.ops.convert_to_numpy(v) for v in model.variables],
            optimizer_vars=[keras.ops.convert_to_numpy(v) for v in model.optimizer.variables],
            best_weights=None if es.best_weights is None else list(es.best_weights),
        )
        self.checkpoint.save(state)


# --------------------------------------------------------------------------- training


@dataclass
class TrainResult:
    model: keras.Model
    history: pd.DataFrame
    val_proba: np.ndarray
    summary: dict
    checkpoint: Checkpoint

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


def _check_split(name: str, split: Mapping[str, np.ndarray], n_hist: int) -> None:
    n = len(split["label"])
    image, hist = split["image"], split["hist"]
    if image.dtype != np.uint8 or image.shape[1:] != (100, 100, 3) or len(image) != n:
        raise ValueError(
            f"{name}: image must be uint8 (N,100,100,3), got {image.dtype} {image.shape}"
        )
    if hist.shape != (n, n_hist):
        raise ValueError(f"{name}: hist must be ({n}, {n_hist}), got {hist.shape}")


def train_cnn(
    train: Mapping[str, np.ndarray],
    val: Mapping[str, np.ndarray],
    params: Mapping,
    out_dir: str | Path,
    work_dir: str | Path,
    log: logging.Logger | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    cleanup: bool = True,
) -> TrainResult:
    """Train (or resume training) the CNN and write ``model.keras``, ``history.csv``
    and ``tensorboard/`` into ``out_dir``.

    train, val: ``{"image": uint8 (N,100,100,3), "hist": float32 (N, 3*bins),
        "label": int (N,)}``.
    params: the ``cnn`` settings (config.yaml's cnn.base merged with a variant).
    work_dir: where the per-epoch checkpoint lives (outside the declared outputs).
    callbacks: extra callbacks, run after the built-in ones (tests use this).
    cleanup: delete the checkpoint at the end; pass False when more outputs
        still have to be written, then call ``result.remove_checkpoint()``.
    """
    log = log or _log
    params = dict(params)
    out_dir = Path(out_dir)
    n_hist = 3 * int(params["bins"])
    _check_split("train", train, n_hist)
    _check_split("validation", val, n_hist)
    epochs = int(params["epochs"])
    batch_size = int(params["batch_size"])
    seed = int(params["seed"])
    n_train, n_val = len(train["label"]), len(val["label"])

    checkpoint = Checkpoint(work_dir, run_key(params, train, val), log)
    checkpoint.remove_stale()
    state = checkpoint.load()

    keras.utils.set_random_seed(seed)
    data = ArrayBatches(train, batch_size, seed)
    model = build_from_params(params, n_hist)
    compile_model(model, params, data.num_batches)
    if params.get("jit_compile") and not model.jit_compile:
        # keras does so on TensorFlow when op determinism is enabled (backend.configure).
        log.warning("jit_compile requested but keras turned it off for this model/backend")
    log.info(
        "model %s: %d parameters; %d training, %d validation images; batch %d, %d epochs",
        model.name,
        model.count_params(),
        n_train,
        n_val,
        batch_size,
        epochs,
    )
    if state is not None:
        restore_model_state(model, state)
        log.info("resuming from checkpoint %s after epoch %d", checkpoint.path, state.epoch)

    rows: list[dict] = list(state.rows) if state else []
    early_stopping = keras.callbacks.EarlyStopping(
        monitor="val_accuracy",
        mode="max",
        patience=int(params["early_stopping_patience"]),
        restore_best_weights=True,
    )
    plateau = None
    if params.get("schedule", "plateau") == "plateau":
        plateau = keras.callbacks.ReduceLROnPlateau(
            monitor="val_accuracy",
            mode="max",
            patience=int(params["plateau_patience"]),
            factor=float(params["plateau_factor"]),
        )
    cbs: list[keras.callbacks.Callback] = [_SyncEpoch(data), EpochLog(rows, epochs, n_train, log)]
    tensorboard = _tensorboard(checkpoint.tensorboard_dir, log)
    if tensorboard is not None:
        cbs.append(tensorboard)
    cbs.append(early_stopping)
    if plateau is not None:
        cbs.append(plateau)
    cbs.append(ResumeCheckpoint(checkpoint, rows, early_stopping, plateau, epochs, state))
    cbs.extend(callbacks)

    if state is not None and state.finished:
        log.info("checkpoint is of a finished run: restoring its best weights")
        if state.best_weights is not None:
            model.set_weights(state.best_weights)
        best_epoch = int(state.early_stopping["best_epoch"]) + 1
    else:
        model.fit(
            data,
            validation_data=(inputs(val), val["label"]),
            validation_batch_size=PREDICT_BATCH,
            epochs=epochs,
            initial_epoch=state.epoch if state else 0,
            callbacks=cbs,
            shuffle=False,  # ArrayBatches shuffles, reproducibly per epoch
            verbose=0,
        )
        best_epoch = int(early_stopping.best_epoch) + 1

    history = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    val_proba = predict_proba(model, val)
    val_accuracy = float(np.mean(val_proba.argmax(axis=1) == val["label"]))
    train_seconds = float(history["seconds"].sum())
    summary = {
        "val_accuracy": val_accuracy,
        "epochs_run": len(history),
        "best_epoch": best_epoch,
        "train_seconds": train_seconds,
        "seconds_per_epoch": train_seconds / max(1, len(history)),
        "n_params": int(model.count_params()),
        "n_train": n_train,
        "n_val": n_val,
        "backend": keras.backend.backend(),
        "resumed_after_epoch": state.epoch if state else 0,
    }
    log.info(
        "best epoch %d of %d: val_accuracy %.4f; %.1f s training",
        best_epoch,
        len(history),
        val_accuracy,
        train_seconds,
    )

    with atomic_path(out_dir / "model.keras") as tmp:
        model.save(tmp)
    write_history(out_dir / "history.csv", history)
    _publish_dir(checkpoint.tensorboard_dir, out_dir / "tensorboard")
    result = TrainResult(model, history, val_proba, summary, checkpoint)
    if cleanup:
        result.remove_checkpoint()
    return result
