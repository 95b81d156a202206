"""Descriptors against known images: HSV histograms (also against a per-pixel count),
the joint HSV histogram, the spectrum fingerprint and local binary patterns."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deepfake.descriptors import (
    cooccurrence,
    cross_cooccurrence,
    descriptor,
    hsv_histograms,
    joint_hsv_histogram,
    lbp_histogram,
    mean_residual_spectrum,
    parse_descriptor_name,
    pixel_descriptor,
    spectrum_fingerprint,
)


def solid(rgb, n=1, size=100):
    return np.tile(np.array(rgb, dtype=np.uint8), (n, size, size, 1))


def test_pure_red_falls_in_first_hue_and_last_saturation_value_bins():
    hist = hsv_histograms(solid((255, 0, 0)), bins=16)
    assert hist.shape == (1, 48) and hist.dtype == np.float32
    expected = np.zeros(48, dtype=np.float32)
    expected[0] = expected[16 + 15] = expected[32 + 15] = 1.0
    np.testing.assert_array_equal(hist[0], expected)


def test_blue_uses_opencv_hue_range_0_to_179():
    # OpenCV 8-bit hue of pure blue is 120 (240 degrees / 2): bin 120 * 8 // 180 = 5.
    hist = hsv_histograms(solid((0, 0, 255)), bins=8)
    assert hist[0, :8].argmax() == 5


def test_half_black_half_white_splits_value_channel():
    image = solid((0, 0, 0))
    image[0, :, 50:] = 255
    hist = hsv_histograms(image, bins=4)
    value = hist[0, 8:12]
    np.testing.assert_allclose(value, [0.5, 0, 0, 0.5])
    np.testing.assert_allclose(hist[0, :4], [1, 0, 0, 0])  # hue and saturation 0 everywhere


@pytest.mark.parametrize("bins", [8, 16, 24])
def test_each_channel_sums_to_one_and_matches_a_per_pixel_count(bins, real_images):
    images = np.stack([cv2.imread(str(p))[:, :, ::-1] for p in real_images[3][:4]])
    hist = hsv_histograms(images, bins=bins)
    assert hist.shape == (4, 3 * bins)
    np.testing.assert_allclose(hist.reshape(4, 3, bins).sum(axis=2), 1.0, rtol=1e-6)
    for i, image in enumerate(images):
        hsv = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2HSV).reshape(-1, 3)
        for channel, top in enumerate((180, 256, 256)):
            counts = np.bincount(hsv[:, channel].astype(int) * bins // top, minlength=bins)
            np.testing.assert_allclose(
                hist[i, channel * bins : (channel + 1) * bins], counts / 10_000, atol=1e-6
            )


def test_rejects_wrong_input():
    with pytest.raises(ValueError, match="uint8"):
        hsv_histograms(np.zeros((1, 10, 10, 3), dtype=np.float32), bins=16)
    with pytest.raises(ValueError, match="bins"):
        hsv_histograms(solid((1, 2, 3)), bins=0)


def test_pixel_descriptor_keeps_a_uint8_row_per_image():
    images = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    rows = pixel_descriptor(images)
    assert rows.shape == (2, 48) and rows.dtype == np.uint8
    np.testing.assert_array_equal(rows[1], images[1].ravel())


def test_parse_descriptor_name():
    assert parse_descriptor_name("hsv24") == ("hsv", 24)
    assert parse_descriptor_name("pixels") == ("pixels", None)
    assert parse_descriptor_name("spectrum") == ("spectrum", None)
    assert parse_descriptor_name("combo") == ("combo", None)
    with pytest.raises(ValueError, match="unknown descriptor"):
        parse_descriptor_name("rgb16")


@pytest.mark.parametrize("rgb", [(0, 0, 0), (255, 0, 0), (17, 200, 90)])
def test_constant_image_joint_histogram_is_one_cell(rgb):
    hist = joint_hsv_histogram(solid(rgb, n=2), bins=8)
    assert hist.shape == (2, 512) and hist.dtype == np.float32
    h, s, v = cv2.cvtColor(solid(rgb)[0], cv2.COLOR_RGB2HSV)[0, 0].astype(int)
    cell = (h * 8 // 180 * 8 + s * 8 // 256) * 8 + v * 8 // 256
    expected = np.zeros(512, dtype=np.float32)
    expected[cell] = 1.0
    np.testing.assert_array_equal(hist, [expected, expected])


def test_joint_histogram_counts_pixels_per_cell_and_jointhsv_is_its_root(real_images):
    images = np.stack([cv2.imread(str(p))[:, :, ::-1] for p in real_images[1][:3]])
    hist = joint_hsv_histogram(images, bins=4)
    for i, image in enumerate(images):
        hsv = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2HSV).reshape(-1, 3)
        bins = hsv.astype(int) * 4 // [180, 256, 256]
        expected, _ = np.histogramdd(bins, bins=[np.arange(5)] * 3)
        np.testing.assert_allclose(hist[i], expected.ravel() / 10_000, atol=1e-7)
    np.testing.assert_allclose(
        descriptor("jointhsv", images) ** 2, joint_hsv_histogram(images), rtol=1e-6
    )


def sinusoid(period: float, size: int = 100) -> np.ndarray:
    """A horizontal grey sinusoid of ``period`` pixels, RGB uint8 (1, size, size, 3)."""
    x = np.arange(size)
    row = 128 + 100 * np.sin(2 * np.pi * x / period)
    image = np.broadcast_to(row.round().astype(np.uint8)[None, :, None], (size, size, 3))
    return np.ascontiguousarray(image)[None]


@pytest.mark.parametrize("period", [2.5, 4, 10])
def test_sinusoid_spectrum_peaks_in_its_radial_bin(period):
    bins = 32
    fingerprint = spectrum_fingerprint(sinusoid(period), bins=bins)
    assert fingerprint.shape == (1, 3 * bins) and fingerprint.dtype == np.float32
    # Frequency 1/period cycles/pixel; bins span 0..sqrt(0.5) (the corner).
    expected = int(1 / period / np.sqrt(0.5) * bins)
    for channel in range(3):
        rings = fingerprint[0, channel * bins : (channel + 1) * bins]
        assert rings.argmax() == expected, (channel, rings.round(1))


def test_spectrum_ignores_brightness_and_sees_upsampling():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (2, 100, 100, 3), dtype=np.uint8)
    flat = spectrum_fingerprint(noise)
    np.testing.assert_allclose(spectrum_fingerprint(noise // 2 + 60), flat - np.log(4), atol=0.05)
    # Nearest-neighbour 2x up-sampling (as a generator's up-sampling layer) empties
    # the highest rings: their log power falls far below that of white noise.
    up = np.repeat(np.repeat(noise[:, :50, :50], 2, axis=1), 2, axis=2)
    assert (spectrum_fingerprint(up)[:, 31] < flat[:, 31] - 5).all()


def test_lbp_of_flat_and_striped_images():
    flat = lbp_histogram(solid((90, 90, 90)))
    assert flat.shape == (1, 256) and flat[0, 255] == 1.0  # every neighbour ties: all bits set
    stripes = np.zeros((1, 100, 100, 3), dtype=np.uint8)
    stripes[:, :, 1::2] = 255  # bright odd columns
    hist = lbp_histogram(stripes)
    # Dark pixels see bright left/right columns; bright pixels see their own column only.
    dark_code = 0b11111111  # every neighbour >= a dark centre
    bright_code = (1 << 1) | (1 << 5)  # above and below, same column
    np.testing.assert_allclose(hist[0, [dark_code, bright_code]], [0.5, 0.5], atol=0.01)
    np.testing.assert_allclose(hist.sum(), 1.0, rtol=1e-6)


def test_cooccurrence_of_flat_ramp_and_checkerboard_images():
    flat = cooccurrence(solid((7, 100, 250)))
    assert flat.shape == (1, 150) and flat.dtype == np.float32
    cells = flat.reshape(3, 2, 5, 5)
    # every difference 0: all pairs in the centre cell (d, d) = (0, 0)
    np.testing.assert_array_equal(cells[:, :, 2, 2], 1.0)
    # a horizontal ramp of +1 per pixel: rightwards all (+1, +1), downwards all (0, 0)
    ramp = np.tile(np.arange(100, dtype=np.uint8)[None, :, None], (100, 1, 3))[None]
    cells = cooccurrence(ramp).reshape(3, 2, 5, 5)
    np.testing.assert_array_equal(cells[:, 1, 3, 3], 1.0)
    np.testing.assert_array_equal(cells[:, 0, 2, 2], 1.0)
    # a checkerboard of 0/255: differences clipped to +-2, alternating signs
    board = (np.indices((100, 100)).sum(0) % 2 * 255).astype(np.uint8)
    cells = cooccurrence(np.repeat(board[None, :, :, None], 3, axis=3)).reshape(3, 2, 5, 5)
    assert cells[:, :, 4, 0].sum() + cells[:, :, 0, 4].sum() == pytest.approx(6.0)
    # each histogram sums to one, for real images too
    assert np.allclose(cooccurrence(solid((1, 2, 3), n=2)).reshape(2, 6, 25).sum(-1), 1.0)
    assert descriptor("cooc", ramp).shape == (1, 150)


def test_cross_cooccurrence_pairs_the_channels_differences_at_each_pixel():
    # rightwards: R rises by 1 per pixel, G by 2, B stays
    x = np.arange(100)
    ramp = np.stack([x, 2 * x, np.zeros_like(x)], -1).astype(np.uint8)
    cells = cross_cooccurrence(np.tile(ramp[None, None], (1, 100, 1, 1))).reshape(2, 3, 5, 5)
    assert cells.dtype == np.float32
    centre, r, g = 2, 2 + 1, 2 + 2  # the cells of differences 0, +1 (R) and +2 (G)
    assert cells[1, 0, r, g] == 1.0  # right, R-G: (+1, +2)
    assert cells[1, 1, g, centre] == 1.0  # right, G-B: (+2, 0)
    assert cells[1, 2, r, centre] == 1.0  # right, R-B: (+1, 0)
    np.testing.assert_array_equal(cells[0, :, centre, centre], 1.0)  # down: nothing changes
    # a grey image's channels change together: all mass on the diagonal
    grey = np.repeat(np.random.default_rng(0).integers(0, 256, (2, 100, 100, 1)), 3, -1)
    cells = cross_cooccurrence(grey.astype(np.uint8)).reshape(2, 2, 3, 5, 5)
    np.testing.assert_allclose(np.trace(cells, axis1=-2, axis2=-1), 1.0, rtol=1e-6)
    assert descriptor("crosscooc", ramp[None].repeat(100, 0)[None]).shape == (1, 150)


def test_mean_residual_spectrum_peaks_at_an_images_own_frequency():
    y, x = np.mgrid[0:100, 0:100]
    wave = 128 + 100 * np.cos(2 * np.pi * 20 * x / 100)  # 20 cycles across, none down
    images = np.repeat(np.round(wave).astype(np.uint8)[None, :, :, None], 3, axis=3)
    spectrum = mean_residual_spectrum(np.repeat(images, 4, axis=0))
    assert spectrum.shape == (100, 100)
    row, col = np.unravel_index(np.argmax(spectrum), spectrum.shape)
    assert row == 50 and abs(col - 50) == 20  # zero frequency at the centre (50, 50)


def test_mean_residual_spectrum_of_a_flat_image_is_empty_and_bad_input_is_refused():
    flat = np.full((2, 100, 100, 3), 77, np.uint8)
    assert (mean_residual_spectrum(flat) < -8).all()  # no power but rounding
    with pytest.raises(ValueError, match="no images"):
        mean_residual_spectrum(flat[:0])
    with pytest.raises(ValueError, match="expected uint8 images"):
        mean_residual_spectrum(flat[0])
