"""Resume of the CNN's training: one atomic checkpoint per epoch.

At the end of every epoch the whole training state (model variables including
dropout seeds, optimizer variables including the learning rate, the step
count and the moving average of the weights when ``ema`` is on,
EarlyStopping's and ReduceLROnPlateau's counters and best weights, and the
history rows so far) is written to ONE ``.npz`` file in ``work_dir``, through a
temporary file renamed over the previous checkpoint, so a job killed at any
moment (SIGKILL included) leaves the last completed epoch's checkpoint intact.
Its name carries a hash of the params and of the training and validation data:
a changed config or data set never resumes a stale run (stale checkpoints are
deleted). Batch order and augmentation are functions of (seed, epoch, batch)
only, so a resumed run continues exactly as the uninterrupted run would have.
``keras.callbacks.BackupAndRestore`` was not used: it writes the weights file
in place and the epoch counter in a second file (not atomic, not consistent
after a kill between the two), and it keeps neither the callbacks' state
(EarlyStopping's best weights and patience) nor the history rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from deepfake.io import atomic_path

CHECKPOINT_VERSION = 2  # 2: one-hot labels, EMA and augmentation options

_log = logging.getLogger(__name__)


def run_key(params: Mapping, train: Mapping, val: Mapping) -> str:
    """Hash of everything a checkpoint depends on: params, data, backend."""
    h = hashlib.blake2b(digest_size=8)
    h.update(json.dumps(dict(params), sort_keys=True, default=str).encode())
    h.update(f"{keras.backend.backend()} keras{keras.__version__.split('.')[0]}".encode())
    for split in (train, val):
        for name in ("image", "hist", "freq", "label"):
            if name not in split:
                continue
            a = np.ascontiguousarray(split[name])
            h.update(f"{name}{a.dtype}{a.shape}".encode())
            h.update(memoryview(a).cast("B"))
    return h.hexdigest()


@dataclass
class TrainState:
    """What a checkpoint holds (``epoch``: epochs completed so far).

    early_stopping and best_weights are None under the clean protocol (no
    early stopping).
    """

    epoch: int
    finished: bool
    rows: list[dict]
    early_stopping: dict | None
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
    ``on_train_begin`` reset with the restored state. The model must hold its
    raw (not the averaged) weights when this callback runs.
    """

    def __init__(
        self,
        checkpoint: Checkpoint,
        rows: list[dict],
        early_stopping: keras.callbacks.EarlyStopping | None,
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
        if self.es is not None and state.early_stopping is not None:
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
            early_stopping=None
            if es is None
            else {
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
            best_weights=None if es is None or es.best_weights is None else list(es.best_weights),
        )
        self.checkpoint.save(state)
