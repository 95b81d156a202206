"""The JPEG-trace detector (deepfake.traces): true on Pillow's and OpenCV's JPEGs of
quality 50 to 95, false on images without JPEG history and on their lossless WebP."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import REPO
from test_degrade import picture

from deepfake.degrade import degrade, opencv_jpeg
from deepfake.traces import (
    JPEG_TRACE_THRESHOLD,
    block_coefficients,
    has_jpeg_traces,
    is_jpeg_file,
    jpeg_trace_score,
)

QUALITIES = (50, 75, 90, 95)


def without_history(n: int = 12) -> list[np.ndarray]:
    """Seeded images that were never JPEGs: gradients with noise, of several sizes."""
    sides = [100, 64, 128, 100] * (n // 4 + 1)
    return [picture(seed, sides[seed]) for seed in range(n)]


def real(real_images) -> list[np.ndarray]:
    """Real PNGs of the competition data, four per generator."""
    return [
        cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        for paths in real_images.values()
        for path in paths[:4]
    ]


def assert_detects(images):
    for i, image in enumerate(images):
        assert not has_jpeg_traces(image), (i, jpeg_trace_score(image))
        assert not has_jpeg_traces(degrade(image, "webp_lossless")), i
        for quality in QUALITIES:
            pillow = degrade(image, "jpeg", quality)
            assert has_jpeg_traces(pillow), ("Pillow", quality, i, jpeg_trace_score(pillow))
            opencv = opencv_jpeg(image, quality)
            assert has_jpeg_traces(opencv), ("OpenCV", quality, i, jpeg_trace_score(opencv))


def test_jpegs_of_images_without_jpeg_history_are_told_from_their_originals():
    assert_detects(without_history())


def test_jpegs_of_real_generator_images_are_told_from_their_originals(real_images):
    assert_detects(real(real_images))


def test_without_a_period_the_score_stays_well_under_the_threshold():
    scores = [jpeg_trace_score(image) for image in without_history()]
    assert max(scores) < JPEG_TRACE_THRESHOLD - 0.2
    assert 1.5 < np.median(scores) < 2.3  # about 1.9: Rayleigh statistics of mean 1


def test_block_coefficients_are_the_dct_of_each_aligned_block():
    image = picture(5, 20)  # two whole 8x8 blocks per side; the last 4 pixels are ignored
    c = block_coefficients(image)
    assert c.shape == (4, 63)
    y = image.astype(np.float32) @ np.float32([0.299, 0.587, 0.114]) - 128
    expected = cv2.dct(np.ascontiguousarray(y[8:16, 0:8])).ravel()[1:]  # block row 1, col 0
    np.testing.assert_allclose(c[2], expected, atol=1e-3)


def test_a_constant_image_and_one_smaller_than_a_block_carry_no_traces():
    assert not has_jpeg_traces(np.full((100, 100, 3), 90, np.uint8))
    assert jpeg_trace_score(np.zeros((7, 50, 3), np.uint8)) == 0.0


def test_the_file_format_is_read_from_the_magic_number():
    image = picture(6)
    png = cv2.imencode(".png", image)[1].tobytes()
    jpeg = cv2.imencode(".jpg", image)[1].tobytes()
    assert is_jpeg_file(jpeg) and not is_jpeg_file(png) and not is_jpeg_file(b"")


def test_a_wrong_image_is_refused_with_its_shape():
    with pytest.raises(ValueError, match=r"expected an RGB uint8 image.*\(100, 100\)"):
        jpeg_trace_score(np.zeros((100, 100), np.uint8))


def test_the_benchmark_reports_no_false_alarm_and_every_jpeg_on_real_images(sample, tmp_path):
    script = REPO / "benchmarks" / "jpeg_traces.py"
    done = subprocess.run(
        [sys.executable, str(script), str(sample), "--images", "4", "--rounds", "1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("# ") and "20 training images of" in lines[0]
    rows = {line[:22].strip(): line[22:].split() for line in lines[2:-1]}
    assert rows["original PNG"] == ["0.0%"] * 6 and rows["lossless WebP"] == ["0.0%"] * 6
    for name in ("Pillow JPEG 95", "Pillow JPEG 50", "OpenCV JPEG 95", "OpenCV JPEG 75"):
        assert rows[name] == ["100.0%"] * 6, name
    assert lines[-1].startswith("share of images flagged (score above 2.5)")
