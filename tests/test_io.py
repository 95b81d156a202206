"""Atomic writes: all or nothing, with ordinary file permissions."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from deepfake.io import load_arrays, save_arrays, write_atomic


def test_arrays_round_trip_with_usual_permissions(tmp_path):
    path = tmp_path / "sub" / "a.npz"
    save_arrays(path, images=np.arange(6, dtype=np.uint8).reshape(2, 3), ids=np.array(["x", "y"]))
    loaded = load_arrays(path)
    assert loaded["images"].dtype == np.uint8 and loaded["ids"].tolist() == ["x", "y"]
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("old\n")

    def broken(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomic(path, broken)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]
