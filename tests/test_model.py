"""The dual-input CNN: shapes, parameter counts, residual wiring, save/load."""

from deepfake.backend import configure

configure(deterministic=True)  # before keras is imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest import TINY_TRAIN_PARAMS  # noqa: E402

from deepfake.model import build_from_params, build_model  # noqa: E402
from deepfake.optim import compile_model  # noqa: E402

# Tiny model: filters chosen so that both shortcuts need a 1x1 projection
# (f1=4 != f3=8, f3=8 != f5=12).
TINY = dict(n_hist=12, filters=(4, 6, 8, 8, 12), hist_units=8, dense_units=16, dropout=0.5)

# Parameters of TINY with the "gap" head, layer by layer (BN: 4 per channel,
# gamma/beta trainable and the moving mean/variance not):
#   block1 3*3*3*4=108 + BN 16 | block2 9*4*6=216 + 24 | block3 9*6*8=432 + 32
#   short1 proj 4*8=32 + BN 32 | block4 9*8*8=576 + 32 | block5 9*8*12=864 + 48
#   short3 proj 8*12=96 + BN 48 | hist_dense 12*8+8=104
#   head_dense (12+8)*16=320 (no bias) + BN 64 | probs 16*5+5=85
TINY_GAP_PARAMS = 3129


def batch(n=6, n_hist=12, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "image": rng.integers(0, 256, (n, 100, 100, 3), dtype=np.uint8),
        "hist": rng.random((n, n_hist), dtype=np.float32),
    }


def source(tensor) -> str:
    """Name of the layer that produced a symbolic tensor."""
    return tensor._keras_history.operation.name


def test_output_is_a_probability_row_per_image():
    model = build_model(**TINY, head="gap")
    proba = model.predict(batch(6), verbose=0)
    assert proba.shape == (6, 5)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (proba > 0).all()


def test_inputs_are_a_dict_of_uint8_image_and_hist():
    model = build_model(**TINY, head="gap")
    assert set(model.input) == {"image", "hist"}
    assert model.input["image"].dtype == "uint8"
    assert tuple(model.input["image"].shape) == (None, 100, 100, 3)
    assert tuple(model.input["hist"].shape) == (None, 12)
    # The scaling to [0, 1] is the model's own first layer.
    assert model.get_layer("rescale").scale == pytest.approx(1 / 255)


def test_parameter_count_is_stable():
    model = build_model(**TINY, head="gap")
    assert model.count_params() == TINY_GAP_PARAMS


def test_flatten_head_adds_the_spatial_positions_to_the_dense_layer():
    gap = build_model(**TINY, head="gap").count_params()
    flat = build_model(**TINY, head="flatten").count_params()
    # GAP feeds f5=12 features to head_dense, Flatten 12*12*12=1728; 16 units.
    assert flat - gap == (12 * 12 * 12 - 12) * 16
    assert flat == 30585


def test_residual_adds_sit_where_designed():
    model = build_model(**TINY, head="gap")
    res3 = model.get_layer("res3_add")
    res5 = model.get_layer("res5_add")
    # Block 3's output (25x25x8) plus block 1's, pooled 4x and projected to 8.
    assert [tuple(t.shape) for t in res3.input] == [(None, 25, 25, 8)] * 2
    assert [source(t) for t in res3.input] == ["block3_act", "short1_bn"]
    assert source(model.get_layer("short1_pool").input) == "block1_act"
    assert tuple(model.get_layer("block1_act").output.shape) == (None, 100, 100, 4)
    # The sum is added BEFORE block 3's pool; the pooled sum feeds block 4 ...
    assert source(model.get_layer("block3_pool").input) == "res3_add"
    assert source(model.get_layer("block4_conv").input) == "block3_pool"
    # ... and, projected from 8 to 12 channels, joins block 5's 12x12x12 output.
    assert [tuple(t.shape) for t in res5.input] == [(None, 12, 12, 12)] * 2
    assert [source(t) for t in res5.input] == ["block5_act", "short3_bn"]
    assert source(model.get_layer("short3_proj").input) == "block3_pool"
    assert source(model.get_layer("gap").input) == "res5_add"


def test_shortcut_is_the_identity_when_channels_match():
    model = build_model(**{**TINY, "filters": (4, 6, 8, 8, 8)}, head="gap")
    names = {layer.name for layer in model.layers}
    assert "short3_proj" not in names and "short1_proj" in names
    res5 = model.get_layer("res5_add")
    assert [source(t) for t in res5.input] == ["block5_act", "block3_pool"]


def test_save_load_gives_identical_predictions(tmp_path):
    model = build_model(**TINY, head="flatten")
    compile_model(model, {"learning_rate": 1e-3, "weight_decay": 1e-4, "epochs": 2}, 10)
    x = batch(5)
    before = model.predict(x, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), before)
    assert loaded.count_params() == model.count_params()


def test_mixed_precision_keeps_float32_variables_and_output():
    before = keras.mixed_precision.global_policy().name
    model = build_model(**TINY, head="gap", mixed_precision=True)
    assert keras.mixed_precision.global_policy().name == before  # not leaked
    assert model.get_layer("block2_conv").compute_dtype == "bfloat16"
    assert model.get_layer("block2_conv").kernel.dtype == "float32"
    assert model.get_layer("probs").compute_dtype == "float32"
    proba = model.predict(batch(4), verbose=0)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-3)
    assert model.count_params() == TINY_GAP_PARAMS


def test_build_from_params_and_cosine_schedule():
    changes = {"dropout": 0.5, "schedule": "cosine", "learning_rate": 0.002, "epochs": 7}
    params = TINY_TRAIN_PARAMS | changes
    model = build_from_params(params)  # n_hist = 3 * bins = 12
    assert model.count_params() == TINY_GAP_PARAMS
    compile_model(model, params, steps_per_epoch=9)
    config = model.optimizer.get_config()
    assert model.optimizer.__class__.__name__ == "AdamW"
    assert config["weight_decay"] == pytest.approx(1e-4)
    schedule = config["learning_rate"]
    assert schedule["class_name"] == "CosineDecay"
    assert schedule["config"]["decay_steps"] == 7 * 9
    assert schedule["config"]["initial_learning_rate"] == pytest.approx(0.002)


@pytest.mark.parametrize(
    "kwargs",
    [{"head": "mean"}, {"filters": (4, 4, 4, 4)}],
)
def test_invalid_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        build_model(**{**TINY, "head": "gap", **kwargs})
