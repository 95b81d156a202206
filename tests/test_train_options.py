"""Training options: clean protocol, EMA, precise BatchNorm statistics, online augmentation +
resume, progress lines."""

from deepfake.backend import configure

configure(deterministic=True)  # before keras is imported

import logging  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
from collections.abc import Mapping  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import TINY_TRAIN_PARAMS, separable, settings  # noqa: E402
from test_train import Interrupt  # noqa: E402  (one simulated kill for both files)

from deepfake.callbacks import Progress, recalibrate_batchnorm  # noqa: E402
from deepfake.feeder import inputs, predict_proba  # noqa: E402
from deepfake.train import CALIBRATION_STREAM, train_cnn  # noqa: E402

PARAMS = {**TINY_TRAIN_PARAMS, "epochs": 3}
COLS = ["loss", "accuracy", "val_loss", "val_accuracy", "lr"]


@pytest.fixture(scope="module")
def data():
    return separable(160, seed=0), separable(80, seed=1)


class CountingSplit(Mapping):
    """A split that counts every read of its arrays."""

    def __init__(self, split):
        self.split, self.reads = split, 0

    def __getitem__(self, key):
        self.reads += 1
        return self.split[key]

    def __iter__(self):
        return iter(self.split)

    def __len__(self):
        return len(self.split)


class Watch(keras.callbacks.Callback):
    """Records the reads of a CountingSplit around fit and the keys of each epoch's logs."""

    def __init__(self, split: CountingSplit):
        super().__init__()
        self.split, self.logs = split, []

    def on_train_begin(self, logs=None):
        self.reads_before = self.split.reads

    def on_epoch_end(self, epoch, logs=None):
        self.logs.append(sorted(logs or {}))

    def on_train_end(self, logs=None):
        self.reads_during = self.split.reads - self.reads_before


class Snapshot(keras.callbacks.Callback):
    """Raw trainable weights and their moving averages at the end of the last epoch."""

    def on_epoch_end(self, epoch, logs=None):
        model = self.model
        self.raw = [np.array(keras.ops.convert_to_numpy(v)) for v in model.trainable_variables]
        avg = model.optimizer._model_variables_moving_average
        self.ema = [np.array(keras.ops.convert_to_numpy(v)) for v in avg]


def test_clean_protocol_never_reads_validation_while_training(data, tmp_path):
    train, val = data
    params = {**PARAMS, "select_on_validation": False}
    counted = CountingSplit(val)
    watch = Watch(counted)
    result = train_cnn(train, counted, settings(params), None, tmp_path / "a", callbacks=[watch])
    assert watch.reads_during == 0
    assert all(not any(k.startswith("val_") for k in keys) for keys in watch.logs)
    assert len(watch.logs) == 3  # no early stop, every epoch ran
    assert result.history[["val_loss", "val_accuracy"]].isna().all().all()
    assert result.summary["protocol"] == "clean" and result.summary["best_epoch"] == 3
    # scored once at the end, on the last epoch's weights
    expected = np.mean(predict_proba(result.model.network, val).argmax(1) == val["label"])
    assert result.summary["val_accuracy"] == pytest.approx(expected)
    assert result.summary["val_accuracy"] > 0.5

    # other validation data: the very same training, to the bit
    other = train_cnn(train, separable(80, seed=7), settings(params), None, tmp_path / "b")
    pd.testing.assert_frame_equal(
        other.history[["loss", "accuracy", "lr"]], result.history[["loss", "accuracy", "lr"]]
    )
    for a, b in zip(
        other.model.network.get_weights(), result.model.network.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(a, b)


def test_ema_weights_are_the_ones_saved_and_kept_on_resume(data, tmp_path):
    params = {**PARAMS, "select_on_validation": False, "ema": 0.8, "epochs": 2}
    snap = Snapshot()
    result = train_cnn(
        *data, settings(params), tmp_path / "out", tmp_path / "w", callbacks=[snap], cleanup=False
    )
    saved = keras.models.load_model(tmp_path / "out" / "model.keras")
    got = [keras.ops.convert_to_numpy(v) for v in saved.trainable_variables]
    assert any(not np.allclose(r, e) for r, e in zip(snap.raw, snap.ema, strict=True))
    for g, e in zip(got, snap.ema, strict=True):
        np.testing.assert_array_equal(g, e)
    # a finished run's checkpoint (killed before its outputs) gives the same model
    again = train_cnn(*data, settings(params), None, tmp_path / "w")
    np.testing.assert_array_equal(again.val_proba, result.val_proba)


@pytest.mark.parametrize("precise_bn", [0, 64])  # 64: statistics recomputed before each validation
def test_report_protocol_validates_and_restores_the_averaged_weights(data, tmp_path, precise_bn):
    params = {**PARAMS, "ema": 0.8, "precise_bn": precise_bn}
    result = train_cnn(*data, settings(params), None, tmp_path / "w")
    history = result.history
    best = int(history["val_accuracy"].to_numpy().argmax())
    assert result.summary["protocol"] == "report" and result.summary["best_epoch"] == best + 1
    _, val = data
    loss, acc = result.model.network.evaluate(
        inputs(val), np.eye(5, dtype=np.float32)[val["label"]], batch_size=256, verbose=0
    )
    # the restored (averaged) weights score exactly what the best epoch's validation saw
    assert acc == pytest.approx(history["val_accuracy"].iloc[best], abs=1e-6)
    assert loss == pytest.approx(history["val_loss"].iloc[best], rel=1e-5)


def batchnorm_statistics(model) -> list[np.ndarray]:
    return [
        np.array(keras.ops.convert_to_numpy(v))
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
        for v in (layer.moving_mean, layer.moving_variance)
    ]


def test_recalibrated_statistics_are_the_mean_batch_statistics():
    rng = np.random.default_rng(0)
    x = (rng.normal(3.0, 2.0, (100, 4)) * [1, 2, 3, 4]).astype(np.float32)
    a = keras.Input((4,), name="a")
    h = keras.layers.BatchNormalization(momentum=0.9)(a)
    model = keras.Model({"a": a}, keras.layers.Dense(2)(keras.layers.Dropout(0.5)(h)))
    norm, dropout = model.layers[1], model.layers[2]
    weights = [np.array(w) for w in model.get_weights() if w.ndim == 2]
    seed_state = np.array(keras.ops.convert_to_numpy(dropout.seed_generator.state))

    recalibrate_batchnorm(model, {"a": x}, batch_size=25)

    batches = x.reshape(4, 25, 4)
    np.testing.assert_allclose(norm.moving_mean, batches.mean(1).mean(0), rtol=1e-5)
    np.testing.assert_allclose(norm.moving_variance, batches.var(1).mean(0), rtol=1e-5)
    assert norm.momentum == 0.9 and dropout.rate == 0.5  # put back
    np.testing.assert_array_equal(  # no dropout draw: the training after it is unchanged
        keras.ops.convert_to_numpy(dropout.seed_generator.state), seed_state
    )
    kernels = [w for w in model.get_weights() if w.ndim == 2]
    for before, after in zip(weights, kernels, strict=True):
        np.testing.assert_array_equal(before, after)


def test_precise_bn_changes_only_the_statistics_of_a_clean_run(data, tmp_path):
    train, val = data
    params = {**PARAMS, "select_on_validation": False, "ema": 0.8}
    plain = train_cnn(train, val, settings(params), None, tmp_path / "a")
    precise = train_cnn(train, val, settings({**params, "precise_bn": 64}), None, tmp_path / "b")
    # training normalises with batch statistics: the same steps, the same weights
    pd.testing.assert_frame_equal(precise.history[COLS], plain.history[COLS])
    for a, b in zip(
        plain.model.network.trainable_variables,
        precise.model.network.trainable_variables,
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    # the final (averaged) weights' own statistics over the 64 calibration images
    moving = batchnorm_statistics(plain.model.network)
    pick = np.sort(np.random.default_rng([3, CALIBRATION_STREAM]).permutation(160)[:64])
    calibration = {k: v[pick] for k, v in inputs(train).items()}
    recalibrate_batchnorm(plain.model.network, calibration, PARAMS["batch_size"])
    recalibrated, got = (
        batchnorm_statistics(plain.model.network),
        batchnorm_statistics(precise.model.network),
    )
    assert any(not np.allclose(m, g) for m, g in zip(moving, got, strict=True))
    for r, g in zip(recalibrated, got, strict=True):
        np.testing.assert_allclose(r, g, rtol=1e-5, atol=1e-6)
    expected = np.mean(predict_proba(precise.model.network, val).argmax(1) == val["label"])
    assert precise.summary["val_accuracy"] == pytest.approx(expected)


def test_augmented_run_resumes_bit_identically(data, tmp_path):
    params = {
        **PARAMS,
        "schedule": "onecycle",
        "warmup_epochs": 1,
        "label_smoothing": 0.1,
        "mixup_alpha": 0.4,
        "cutmix_alpha": 1.0,
        "mix_prob": 0.8,
        "flip": True,
        "shift": 2,
        "ema": 0.8,
        "tta": ["hflip"],
    }
    ref = train_cnn(*data, settings(params), None, tmp_path / "ref")
    work = tmp_path / "work"
    with pytest.raises(KeyboardInterrupt):
        train_cnn(*data, settings(params), None, work, callbacks=[Interrupt(after=2)])
    resumed = train_cnn(*data, settings(params), None, work)
    assert resumed.summary["resumed_after_epoch"] == 2
    pd.testing.assert_frame_equal(resumed.history[COLS], ref.history[COLS])
    np.testing.assert_array_equal(resumed.val_proba, ref.val_proba)
    lr = ref.history["lr"].to_numpy()
    assert lr[0] == pytest.approx(params["learning_rate"] / 25)  # one-cycle warm-up
    assert lr[1] == pytest.approx(params["learning_rate"])


LINE = re.compile(
    r"^epoch (\d+)/1 batch (\d+)/5, \d+ images/s, epoch ETA \d+m\d\ds, run ETA \d+m\d\ds$"
)


def test_progress_lines_on_a_tiny_run(data, tmp_path, caplog):
    log = logging.getLogger("test_progress")
    params = {**PARAMS, "epochs": 1}
    with caplog.at_level(logging.INFO, logger="test_progress"):
        train_cnn(*data, settings(params), None, tmp_path / "w", log=log, progress_seconds=0.0)
    lines = [r.getMessage() for r in caplog.records if "ETA" in r.getMessage()]
    # every batch but the last (the epoch line follows it)
    assert [int(LINE.match(m).group(2)) for m in lines] == [1, 2, 3, 4]
    assert not any("\r" in r.getMessage() for r in caplog.records)


def test_progress_lines_are_rate_limited(caplog):
    log = logging.getLogger("test_progress_rate")
    progress = Progress(log, epochs=2, num_batches=1000, batch_size=10, n_train=10_000, every=0.2)
    with caplog.at_level(logging.INFO, logger="test_progress_rate"):
        progress.on_epoch_begin(0)
        start = time.monotonic()
        for batch in range(40):
            time.sleep(0.02)
            progress.on_train_batch_end(batch)
        elapsed = time.monotonic() - start
    times = [r.created for r in caplog.records]
    assert 1 <= len(times) <= elapsed / 0.2 + 1e-9
    assert (np.diff(times) >= 0.2 - 1e-3).all()
    assert "epoch 1/2 batch" in caplog.records[0].getMessage()
