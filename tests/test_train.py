"""Training loop: learning, outputs, reproducibility and resume after interruption."""

from deepfake.backend import configure

configure(deterministic=True)  # before keras is imported

import json  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import TINY_TRAIN_PARAMS, separable, settings  # noqa: E402

from deepfake.train import (  # noqa: E402
    HISTORY_COLUMNS,
    PREDICT_BATCH,
    ArrayBatches,
    Checkpoint,
    run_key,
    train_cnn,
)

PARAMS = TINY_TRAIN_PARAMS


@pytest.fixture(scope="module")
def data():
    return separable(320, seed=0), separable(160, seed=1)


class EpochsRun(keras.callbacks.Callback):
    """Records the (0-based) epochs that fit actually runs."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


class Interrupt(keras.callbacks.Callback):
    """Stands for a killed job: raises once epoch ``after`` (1-based) has ended."""

    def __init__(self, after: int):
        super().__init__()
        self.after = after

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.after:
            raise KeyboardInterrupt("simulated kill")


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    """One uninterrupted run, checkpoint kept (cleanup=False) for the finished-run test."""
    out = tmp_path_factory.mktemp("ref")
    seen = EpochsRun()
    result = train_cnn(
        *data, settings(PARAMS), out / "out", out / "work", callbacks=[seen], cleanup=False
    )
    return result, out, seen.epochs


def test_learns_separable_data(reference):
    result, _, epochs = reference
    assert epochs == [0, 1, 2, 3, 4, 5]
    assert result.summary["val_accuracy"] > 0.9
    assert result.history["val_accuracy"].max() > 0.9


def test_outputs_and_summary(reference, data):
    result, out, _ = reference
    history = pd.read_csv(out / "out" / "history.csv")
    assert list(history.columns) == HISTORY_COLUMNS
    assert history["epoch"].tolist() == [1, 2, 3, 4, 5, 6]
    assert history["lr"].iloc[0] == pytest.approx(PARAMS["learning_rate"])
    assert (history["seconds"] > 0).all()
    np.testing.assert_allclose(history["val_accuracy"], result.history["val_accuracy"], atol=1e-6)

    summary = result.summary
    assert summary["epochs_run"] == 6
    best = int(history["val_accuracy"].to_numpy().argmax()) + 1  # first best epoch
    assert summary["best_epoch"] == best
    # restore_best_weights: the returned model is the best epoch's
    assert summary["val_accuracy"] == pytest.approx(history["val_accuracy"].max(), abs=1e-6)
    assert summary["n_train"] == 320 and summary["n_val"] == 160
    assert summary["n_params"] == 3129
    assert summary["train_seconds"] == pytest.approx(result.history["seconds"].sum())
    assert summary["backend"] == keras.backend.backend()
    assert summary["resumed_after_epoch"] == 0
    json.dumps(summary)  # serialisable as metrics.json

    val_proba = result.val_proba
    assert val_proba.shape == (160, 5) and val_proba.dtype == np.float32
    loaded = keras.models.load_model(out / "out" / "model.keras")
    _, val = data
    # same batch size as train_cnn's: on GPUs the kernels (and last bits) depend on it
    proba = loaded.predict(
        {"image": val["image"], "hist": val["hist"]}, batch_size=PREDICT_BATCH, verbose=0
    )
    np.testing.assert_allclose(proba, val_proba, atol=1e-6)
    assert (out / "out" / "tensorboard").is_dir()


def test_plateau_halves_the_rate_after_a_stall(reference):
    history = reference[0].history
    lr = history["lr"].to_numpy()
    acc = history["val_accuracy"].to_numpy()
    # patience 1: epoch e+1 runs at half the rate iff epoch e did not beat the best.
    for e in range(1, len(lr) - 1):
        stalled = acc[e] <= acc[:e].max()
        assert lr[e + 1] == pytest.approx(lr[e] * (0.5 if stalled else 1.0))
    assert lr[-1] < lr[0]  # the data do stall within the run (both branches tested)


def test_same_seed_same_result(reference, data, tmp_path):
    again = train_cnn(*data, settings(PARAMS), tmp_path / "out", tmp_path / "work")
    ref = reference[0]
    cols = ["loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    pd.testing.assert_frame_equal(again.history[cols], ref.history[cols])
    np.testing.assert_array_equal(again.val_proba, ref.val_proba)
    assert again.summary["val_accuracy"] == ref.summary["val_accuracy"]
    # a successful finish deletes the checkpoint
    assert not (tmp_path / "work").exists()


def test_interrupted_run_resumes_after_its_last_epoch(reference, data, tmp_path):
    work = tmp_path / "work"
    # After epoch 5: the best epoch (4) and a plateau reduction lie before the cut.
    with pytest.raises(KeyboardInterrupt):
        train_cnn(*data, settings(PARAMS), tmp_path / "out", work, callbacks=[Interrupt(after=5)])
    (checkpoint,) = work.glob("checkpoint-*.npz")
    assert Checkpoint(work, run_key(settings(PARAMS).as_params(), *data)).load().epoch == 5

    seen = EpochsRun()
    resumed = train_cnn(*data, settings(PARAMS), tmp_path / "out", work, callbacks=[seen])
    assert seen.epochs == [5]  # only epoch 6 was run again
    assert resumed.summary["resumed_after_epoch"] == 5
    history = pd.read_csv(tmp_path / "out" / "history.csv")
    assert history["epoch"].tolist() == [1, 2, 3, 4, 5, 6]  # no duplicated epochs
    # Weights, optimizer (its reduced rate too), EarlyStopping's best weights,
    # dropout seeds and batch order were all restored: the result is the
    # uninterrupted run's, to the bit.
    ref = reference[0]
    cols = ["loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    pd.testing.assert_frame_equal(resumed.history[cols], ref.history[cols])
    np.testing.assert_array_equal(resumed.val_proba, ref.val_proba)
    assert resumed.summary["best_epoch"] == ref.summary["best_epoch"]
    assert not checkpoint.exists()


def test_finished_checkpoint_skips_training(reference, data, tmp_path):
    """Killed after the last epoch but before the outputs: no epoch is rerun."""
    ref, out, _ = reference
    seen = EpochsRun()
    again = train_cnn(*data, settings(PARAMS), tmp_path / "out", out / "work", callbacks=[seen])
    assert seen.epochs == []
    np.testing.assert_array_equal(again.val_proba, ref.val_proba)
    assert again.summary["best_epoch"] == ref.summary["best_epoch"]
    assert again.summary["epochs_run"] == 6
    assert pd.read_csv(tmp_path / "out" / "history.csv")["epoch"].tolist() == [1, 2, 3, 4, 5, 6]
    assert not list((out / "work").glob("checkpoint-*"))


def test_checkpoint_key_follows_params_and_data(data):
    train, val = data
    key = run_key(PARAMS, train, val)
    assert run_key(dict(PARAMS), train, val) == key
    assert run_key({**PARAMS, "dropout": 0.5}, train, val) != key
    assert run_key({**PARAMS, "epochs": 5}, train, val) != key
    changed = {**train, "label": train["label"].copy()}
    changed["label"][0] = (changed["label"][0] + 1) % 5
    assert run_key(PARAMS, changed, val) != key


def test_stale_and_unreadable_checkpoints_are_not_resumed(tmp_path):
    stale = tmp_path / "checkpoint-0123456789abcdef.npz"
    stale.write_bytes(b"another run")
    leftover = tmp_path / ".checkpoint-fedcba9876543210.x1y2.npz"  # a killed write
    leftover.write_bytes(b"partial")
    ckpt = Checkpoint(tmp_path, "aaaaaaaaaaaaaaaa")
    ckpt.path.write_bytes(b"truncated npz")
    ckpt.remove_stale()
    assert not stale.exists() and not leftover.exists()
    assert ckpt.load() is None  # unreadable: start afresh rather than fail


def test_batches_depend_on_seed_and_epoch_only(data):
    train, _ = data
    a, b = ArrayBatches(train, 32, seed=5), ArrayBatches(train, 32, seed=5)
    assert a.num_batches == 10
    a.epoch, b.epoch = 3, 3
    xa, ya = a[7]
    xb, yb = b[7]
    np.testing.assert_array_equal(xa["image"], xb["image"])
    np.testing.assert_array_equal(ya, yb)
    assert xa["image"].dtype == np.uint8
    b.epoch = 4
    assert not np.array_equal(b[7][1], ya) or not np.array_equal(b[7][0]["hist"], xa["hist"])
    # every image once per epoch
    seen = np.concatenate([a.order(3)[i * 32 : (i + 1) * 32] for i in range(a.num_batches)])
    assert sorted(seen.tolist()) == list(range(320))


def test_cosine_schedule_decays_every_epoch(data, tmp_path):
    params = {**PARAMS, "schedule": "cosine", "epochs": 3}
    result = train_cnn(*data, settings(params), tmp_path / "out", tmp_path / "work")
    lr = result.history["lr"].to_numpy()
    assert lr[0] == pytest.approx(params["learning_rate"])
    assert (np.diff(lr) < 0).all()
    # CosineDecay over epochs * steps: at the start of epoch 2, a third of the way
    expected = 0.5 * (1 + np.cos(np.pi / 3)) * params["learning_rate"]
    assert lr[1] == pytest.approx(expected, rel=1e-4)


def test_wrong_histogram_width_is_refused(data, tmp_path):
    with pytest.raises(ValueError, match="hist"):
        train_cnn(*data, settings({**PARAMS, "bins": 8}), tmp_path / "out", tmp_path / "work")
