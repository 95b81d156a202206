"""deepfake-predict as a person meets it: a clean --help, a short error for a wrong
command before any model loads, a progress bar and a last line of counts on standard
error (errors only with --quiet), no library start-up lines, and a non-zero exit when
a file could not be read."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO
from pathlib import Path

import cv2
import pandas as pd
import pytest
from conftest import REPO, separable

from deepfake.descriptors import descriptor
from deepfake.knn_model import KnnModel

CLI = [sys.executable, "-m", "deepfake.cli"]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=REPO, timeout=300)


@pytest.fixture(scope="module")
def model_and_images(tmp_path_factory):
    """A small KNN model folder and a folder of 5 images and one broken file."""
    root = tmp_path_factory.mktemp("cli")
    train = separable(60, seed=1)
    groups = [descriptor("hsv16", train["image"])]
    KnnModel.fit(["hsv16"], groups, train["label"], 3, "uniform").save(root / "knn")
    images = root / "images"
    images.mkdir()
    for i, image in enumerate(separable(5, seed=2)["image"]):
        assert cv2.imwrite(str(images / f"{i}.png"), image)
    return root / "knn", images


def test_help_says_what_it_does_and_every_option():
    done = cli("--help")
    assert done.returncode == 0
    assert done.stdout.startswith("usage: deepfake-predict")
    assert "Which of the five generators made an image" in done.stdout
    assert "`" not in done.stdout
    for option in ("--model", "--out", "--threads", "--quiet"):
        line = next(x for x in done.stdout.splitlines() if x.strip().startswith(option))
        assert len(line.split(maxsplit=2)) >= 2, line  # each option has its help


@pytest.mark.parametrize("case", ["empty folder", "missing folder", "no model"])
def test_a_wrong_command_is_one_short_message(tmp_path, model_and_images, case):
    model, _ = model_and_images
    (tmp_path / "empty").mkdir()
    args = {
        "empty folder": [str(tmp_path / "empty"), "--model", str(model)],
        "missing folder": [str(tmp_path / "nope"), "--model", str(model)],
        "no model": [str(tmp_path / "empty"), "--model", str(tmp_path)],
    }[case]
    done = cli(*args)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("deepfake-predict: error: ")
    assert done.stdout == ""


def test_progress_counts_and_the_exit_status_of_unreadable_files(model_and_images):
    model, images = model_and_images
    done = cli(str(images), "--model", str(model))
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[-2] == f"[{'#' * 30}] 5/5 images"
    assert (
        lines[-1] == "5 files: 5 predicted (0 unknown), 0 could not be read (see the error column)"
    )
    table = pd.read_csv(StringIO(done.stdout), keep_default_na=False)
    assert len(table) == 5 and table["error"].eq("").all()

    (images / "broken.png").write_bytes(b"\x89PNG not really")
    try:
        done = cli(str(images), "--model", str(model), "--quiet")
    finally:
        (images / "broken.png").unlink()
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "deepfake-predict: 6 files: 5 predicted (0 unknown), 1 could not be read "
        "(see the error column)"
    ]
    table = pd.read_csv(StringIO(done.stdout), keep_default_na=False)
    assert len(table) == 6 and table.set_index("image_id").loc["broken.png", "label"] == ""


@pytest.mark.skipif(not (REPO / "models" / "laptop").is_dir(), reason="no shipped model")
def test_the_libraries_start_up_lines_stay_off_the_terminal(tmp_path):
    """The shipped model loads TensorFlow, whose C++ start-up lines no log level stops."""
    check = REPO / "models" / "laptop" / "check" / "images"
    done = cli(str(check), "--model", str(REPO / "models" / "laptop"), "--quiet")
    assert done.returncode == 0 and done.stderr == ""
    loud = cli(str(next(Path(check).iterdir())), "--model", str(REPO / "models" / "laptop"))
    assert loud.returncode == 0
    assert loud.stderr.splitlines()[-1].startswith("1 file: 1 predicted")
    for noise in ("E0000", "I0000", "W0000", "oneDNN", "absl::", "cpu_feature_guard"):
        assert noise not in loud.stderr, loud.stderr
