"""Batch feeder: order, online flips/shifts, MixUp/CutMix, model inputs, test-time augmentation."""

from deepfake.backend import configure

configure(deterministic=True)  # before keras is imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest import separable  # noqa: E402

from deepfake.feeder import (  # noqa: E402
    ArrayBatches,
    cutmix,
    flip_shift,
    inputs,
    mixup,
    predict_proba,
    random_crops,
    transform,
)
from deepfake.settings import TTA_TRANSFORMS  # noqa: E402


@pytest.fixture(scope="module")
def split():
    data = separable(96, seed=0)
    data["freq"] = np.random.default_rng(2).normal(size=(96, 7)).astype(np.float32)
    return data


def test_mixed_labels_sum_to_one_and_follow_the_inputs(split):
    for alpha, key in ((0.4, "mixup_alpha"), (1.0, "cutmix_alpha")):
        feeder = ArrayBatches(split, 32, seed=1, **{key: alpha})
        feeder.epoch = 2
        x, y = feeder[1]
        assert y.dtype == np.float32 and y.shape == (32, 5)
        np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=1e-6)
        assert ((y > 0) & (y < 1)).any()  # really mixed (soft labels)
        assert x["image"].dtype == np.uint8 and x["image"].shape == (32, 100, 100, 3)
        assert set(x) == {"image", "hist", "freq"}
        # reproducible from (seed, epoch, batch), whatever was drawn before
        again = ArrayBatches(split, 32, seed=1, **{key: alpha})
        again.epoch = 2
        x2, y2 = again[1]
        np.testing.assert_array_equal(y, y2)
        for name in x:
            np.testing.assert_array_equal(x[name], x2[name])
        other = ArrayBatches(split, 32, seed=2, **{key: alpha})
        other.epoch = 2
        assert not np.array_equal(other[1][1], y)


def test_mixup_mixes_every_input_with_the_label_lambda():
    rng = np.random.default_rng(0)
    x = {
        "image": rng.integers(0, 256, (8, 100, 100, 3), dtype=np.uint8),
        "hist": rng.random((8, 12), dtype=np.float32),
        "freq": rng.random((8, 7), dtype=np.float32),
    }
    y = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 8)]
    xm, ym = mixup(x, y, np.random.default_rng(5), alpha=0.5)
    r = np.random.default_rng(5)
    lam, perm = r.beta(0.5, 0.5), r.permutation(8)
    np.testing.assert_allclose(ym, lam * y + (1 - lam) * y[perm], atol=1e-6)
    for name in ("hist", "freq"):
        np.testing.assert_allclose(xm[name], lam * x[name] + (1 - lam) * x[name][perm], atol=1e-6)
    expect = lam * x["image"].astype(float) + (1 - lam) * x["image"][perm]
    assert np.abs(xm["image"] - expect).max() <= 0.5 + 1e-6  # rounded to uint8


def test_cutmix_uses_the_pasted_area_as_lambda():
    n = 6
    x = {
        "image": np.zeros((n, 100, 100, 3), np.uint8)
        + np.arange(n, dtype=np.uint8)[:, None, None, None],
        "hist": np.arange(n, dtype=np.float32)[:, None] * np.ones((1, 4), np.float32),
    }
    y = np.eye(5, dtype=np.float32)[np.arange(n) % 5]
    xm, ym = cutmix(x, y, np.random.default_rng(3), alpha=1.0)
    perm = np.random.default_rng(3)
    perm.beta(1.0, 1.0)
    perm = perm.permutation(n)
    for i in range(n):
        if perm[i] == i:
            continue
        pasted = (xm["image"][i, :, :, 0] == perm[i]).mean()  # share of the partner's pixels
        lam = 1 - pasted
        np.testing.assert_allclose(ym[i], lam * y[i] + (1 - lam) * y[perm[i]], atol=1e-6)
        np.testing.assert_allclose(xm["hist"][i], lam * i + (1 - lam) * perm[i], atol=1e-5)
    np.testing.assert_allclose(ym.sum(axis=1), 1.0, atol=1e-6)


def test_flips_and_shifts_move_whole_pixels():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (16, 100, 100, 3), dtype=np.uint8)
    out = flip_shift(images, np.random.default_rng(1), flip=True, shift=0)
    flipped = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, images, strict=True)]
    same = [np.array_equal(o, i) for o, i in zip(out, images, strict=True)]
    assert all(f or s for f, s in zip(flipped, same, strict=True)) and any(flipped) and any(same)
    out = flip_shift(images, np.random.default_rng(1), flip=False, shift=3)
    for o, i in zip(out, images, strict=True):  # the centre is the image moved by <= 3 pixels
        found = any(
            np.array_equal(o[3:-3, 3:-3], i[3 - dy : 97 - dy, 3 - dx : 97 - dx])
            for dy in range(-3, 4)
            for dx in range(-3, 4)
        )
        assert found
    assert out.dtype == np.uint8


def test_plain_batches_are_one_hot_and_unchanged(split):
    feeder = ArrayBatches(split, 32, seed=1)
    x, y = feeder[0]
    idx = np.sort(feeder.order(0)[:32])
    np.testing.assert_array_equal(x["image"], split["image"][idx])
    np.testing.assert_array_equal(x["freq"], split["freq"][idx])
    np.testing.assert_array_equal(y.argmax(axis=1), split["label"][idx])
    assert y.sum() == 32


def _three_input_model():
    image = keras.Input((100, 100, 3), dtype="uint8", name="image")
    hist = keras.Input((12,), name="hist")
    freq = keras.Input((7,), name="freq")
    x = keras.layers.Rescaling(1 / 255)(image)
    x = keras.layers.Conv2D(2, 5, strides=4)(x)
    x = keras.layers.Flatten()(x)
    z = keras.layers.Concatenate()([x, hist, freq])
    out = keras.layers.Dense(5, activation="softmax")(z)
    return keras.Model({"image": image, "hist": hist, "freq": freq}, out)


def test_tta_is_the_mean_of_the_transformed_predictions(split):
    keras.utils.set_random_seed(0)
    model = _three_input_model()  # not flip-invariant: each transform changes the output
    x = inputs(split)
    assert set(x) == {"image", "hist", "freq"}
    plain = model.predict(x, batch_size=256, verbose=0)
    h = model.predict(x | {"image": x["image"][:, :, ::-1]}, batch_size=256, verbose=0)
    v = model.predict(x | {"image": x["image"][:, ::-1]}, batch_size=256, verbose=0)
    np.testing.assert_allclose(predict_proba(model, split), plain, atol=1e-6)
    got = predict_proba(model, split, tta=["hflip"])
    assert not np.allclose(got, plain, atol=1e-4)
    np.testing.assert_allclose(got, (plain + h) / 2, atol=1e-6)
    got = predict_proba(model, split, tta=("hflip", "vflip"))
    np.testing.assert_allclose(got, (plain + h + v) / 3, atol=1e-6)
    with pytest.raises(ValueError, match="rot45"):
        predict_proba(model, split, tta=["rot45"])


def test_eight_view_tta_is_the_mean_of_the_eight_symmetries_of_the_square(split):
    keras.utils.set_random_seed(0)
    model = _three_input_model()
    x = inputs(split)
    image = x["image"]
    # the eight symmetries, written out by hand (rows are axis 1, columns axis 2)
    views = [
        image,
        image[:, :, ::-1],  # hflip
        image[:, ::-1],  # vflip
        np.stack([np.rot90(i) for i in image]),  # a quarter turn counter-clockwise
        image[:, ::-1, ::-1],  # half turn
        np.stack([np.rot90(i, -1) for i in image]),  # three quarters
        image.transpose(0, 2, 1, 3),  # transpose
        image[:, ::-1, ::-1].transpose(0, 2, 1, 3),  # the other diagonal
    ]
    assert len({v.tobytes() for v in views}) == 8  # eight different images
    expected = np.mean(
        [model.predict(x | {"image": v}, batch_size=256, verbose=0) for v in views], axis=0
    )
    got = predict_proba(model, split, tta=TTA_TRANSFORMS)
    assert len(TTA_TRANSFORMS) == 7
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_flips_with_quarter_turns_draw_all_eight_symmetries():
    image = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(1, 4, 4, 3)
    batch = np.repeat(image, 400, axis=0)
    out = flip_shift(batch, np.random.default_rng(0), flip=True, shift=0, rotate=True)
    seen = {}
    for view in out:
        seen[view.tobytes()] = seen.get(view.tobytes(), 0) + 1
    assert len(seen) == 8 and min(seen.values()) > 25  # each about 50 times in 400
    for name in TTA_TRANSFORMS:
        assert transform(image, name).tobytes() in seen, name
    # without rotate nothing is turned: only the image and its mirror
    flips = flip_shift(batch, np.random.default_rng(0), flip=True, shift=0)
    assert len({v.tobytes() for v in flips}) == 2


def test_crops_lie_inside_the_image_and_follow_the_seeded_stream(split):
    feeder = ArrayBatches(split, 32, seed=4, flip=True, crop=48, crop_epochs=3)
    feeder.epoch = 1
    x, y = feeder[2]
    assert x["image"].shape == (32, 48, 48, 3) and x["image"].dtype == np.uint8
    assert x["hist"].shape == (32, 12)  # the whole image's histogram
    # reproducible, and the same in a feeder that never drew the batches before it
    again = ArrayBatches(split, 32, seed=4, flip=True, crop=48, crop_epochs=3)
    again.epoch = 1
    np.testing.assert_array_equal(again[2][0]["image"], x["image"])
    np.testing.assert_array_equal(again[2][1], y)
    # each crop is a window inside its image, drawn after the flips (so the flips of a
    # cropped run are those of the same run without crops)
    plain = ArrayBatches(split, 32, seed=4, flip=True)
    plain.epoch = 1
    full = plain[2][0]["image"]
    r = np.random.default_rng([4, 1, 2])
    r.random(32)  # the flips' draw
    y0, x0 = r.integers(0, 53, 32), r.integers(0, 53, 32)
    assert (y0 + 48 <= 100).all() and (x0 + 48 <= 100).all()
    for i in range(32):
        np.testing.assert_array_equal(
            x["image"][i], full[i, y0[i] : y0[i] + 48, x0[i] : x0[i] + 48]
        )
    # from epoch crop_epochs on: whole images (the final full-size phase)
    feeder.epoch = 3
    assert feeder[0][0]["image"].shape == (32, 100, 100, 3)
    assert feeder.crop_size(2) == 48 and feeder.crop_size(3) == 0


def test_random_crops_refuse_a_window_larger_than_the_image():
    images = np.zeros((2, 40, 40, 3), np.uint8)
    with pytest.raises(ValueError, match="does not fit"):
        random_crops(images, np.random.default_rng(0), 48)


def test_batches_are_prepared_by_keras_threads_not_a_tf_data_prefetch_thread(split):
    """With one worker, tf.data prefetches in a thread of its own, and keras drops that
    iterator at every epoch start while its thread waits for the GIL: 35 s lost at some
    epochs' first batch. With two, keras' own thread pool prepares the batches."""
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    adapter = PyDatasetAdapter(ArrayBatches(split, 32, seed=0), shuffle=False)
    assert adapter.enqueuer is not None
