"""Learning-rate schedules and the compiled loss (label smoothing, soft labels)."""

import keras
import numpy as np
import pytest

from deepfake.optim import compile_model, learning_rate
from deepfake.settings import TrainSettings

PARAMS = {"learning_rate": 0.01, "epochs": 10, "warmup_epochs": 2, "weight_decay": 0.0}


def S(params: dict) -> TrainSettings:
    return TrainSettings.from_params(params)


STEPS = 10  # per epoch: 100 steps in all, 20 of warm-up


def lr_at(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_onecycle_warms_up_linearly_from_lr_over_25_then_anneals_to_zero():
    s = learning_rate(S({**PARAMS, "schedule": "onecycle"}), STEPS)
    assert lr_at(s, 0) == pytest.approx(0.01 / 25)
    assert lr_at(s, 10) == pytest.approx(0.01 / 25 + (0.01 - 0.01 / 25) / 2)
    assert lr_at(s, 20) == pytest.approx(0.01)
    assert lr_at(s, 60) == pytest.approx(0.005, rel=1e-5)  # halfway through the anneal
    assert lr_at(s, 100) == pytest.approx(0.0, abs=1e-9)
    assert lr_at(s, 150) == pytest.approx(0.0, abs=1e-9)


def test_warmup_cosine_starts_at_zero_and_follows_a_half_cosine():
    s = learning_rate(S({**PARAMS, "schedule": "warmup_cosine"}), STEPS)
    assert lr_at(s, 0) == pytest.approx(0.0, abs=1e-9)
    assert lr_at(s, 5) == pytest.approx(0.0025)
    assert lr_at(s, 20) == pytest.approx(0.01)
    assert lr_at(s, 40) == pytest.approx(0.005 * (1 + np.cos(np.pi / 4)), rel=1e-5)
    assert lr_at(s, 60) == pytest.approx(0.005, rel=1e-5)
    assert lr_at(s, 100) == pytest.approx(0.0, abs=1e-9)


def test_no_warmup_and_the_old_schedules():
    s = learning_rate(S({**PARAMS, "schedule": "warmup_cosine", "warmup_epochs": 0}), STEPS)
    assert lr_at(s, 0) == pytest.approx(0.01)
    assert learning_rate(S({**PARAMS, "schedule": "plateau"}), STEPS) == 0.01
    cos = learning_rate(S({**PARAMS, "schedule": "cosine"}), STEPS)
    assert lr_at(cos, 0) == pytest.approx(0.01)
    assert lr_at(cos, 50) == pytest.approx(0.005, rel=1e-5)
    with pytest.raises(ValueError, match="schedule"):
        S({**PARAMS, "schedule": "step"})


def test_schedule_survives_serialisation():
    s = learning_rate(S({**PARAMS, "schedule": "onecycle"}), STEPS)
    again = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(s))
    for step in (0, 3, 20, 30, 100):
        assert lr_at(again, step) == pytest.approx(lr_at(s, step))


def test_label_smoothing_and_soft_labels_reach_the_loss():
    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Dense(5, activation="softmax")(inp))
    params = {**PARAMS, "schedule": "plateau", "label_smoothing": 0.2}
    compile_model(model, S(params), STEPS)
    x = np.zeros((4, 3), np.float32)  # uniform output: loss = log 5 for any soft target
    y = np.eye(5, dtype=np.float32)[[0, 1, 2, 3]]
    loss, acc = model.evaluate(x, y, verbose=0)
    assert loss == pytest.approx(np.log(5), rel=1e-5)
    # the loss is the cross-entropy with the smoothed target (0.8 one-hot + 0.2/5)
    model.layers[-1].bias.assign(np.log(np.array([4, 1, 1, 1, 1], np.float32)))
    p = np.array([0.5, 0.125, 0.125, 0.125, 0.125])
    target = 0.8 * np.eye(5)[0] + 0.2 / 5
    loss, _ = model.evaluate(x[:1], y[:1], verbose=0)
    assert loss == pytest.approx(-(target * np.log(p)).sum(), rel=1e-5)
    assert model.optimizer.use_ema is False
    compile_model(model, S({**params, "ema": 0.9}), STEPS)
    assert model.optimizer.use_ema and model.optimizer.ema_momentum == pytest.approx(0.9)
