"""Atomic file writes: a failed job never leaves a half-written output."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary file keeps ``path``'s suffix so writers that infer the format
    from it (numpy, matplotlib, keras) behave as for the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.exists():  # mkstemp makes it owner-only; give it the usual permissions
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp_path)`` and move the result onto ``path``."""
    with atomic_path(path) as tmp:
        write(tmp)


def save_arrays(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Save named arrays as an uncompressed ``.npz`` (fast to load), atomically."""
    write_atomic(path, lambda tmp: np.savez(tmp, **arrays))


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` into memory."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    write_atomic(path, lambda tmp: np.save(tmp, array))


def save_csv(path: str | os.PathLike, frame: pd.DataFrame, **to_csv_args) -> None:
    """Write a table without its index, floats to 4 decimals, atomically."""
    args = {"index": False, "float_format": "%.4f"} | to_csv_args
    write_atomic(path, lambda tmp: frame.to_csv(tmp, **args))


def save_json(path: str | os.PathLike, obj: object) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n"))
