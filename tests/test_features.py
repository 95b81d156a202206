"""HSV histograms against known images and an independent per-pixel count."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deepfake.features import hsv_histograms, parse_feature_name, pixel_features


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


def test_pixel_features_keep_uint8_row_per_image():
    images = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    features = pixel_features(images)
    assert features.shape == (2, 48) and features.dtype == np.uint8
    np.testing.assert_array_equal(features[1], images[1].ravel())


def test_parse_feature_name():
    assert parse_feature_name("hsv24") == ("hsv", 24)
    assert parse_feature_name("pixels") == ("pixels", None)
    with pytest.raises(ValueError, match="unknown feature set"):
        parse_feature_name("rgb16")
