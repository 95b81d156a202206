"""The CNN architectures: shapes, parameter counts, residual wiring, dtypes, save/load, learning."""

from deepfake.backend import configure

configure(deterministic=True)  # before keras is imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest import TINY_TRAIN_PARAMS, separable, settings  # noqa: E402

from deepfake.networks import (  # noqa: E402
    TRAIN_FLOPS_PER_MAC,
    build_model,
    multiply_adds,
    train_flops_per_image,
)
from deepfake.optim import compile_model  # noqa: E402
from deepfake.settings import TrainSettings  # noqa: E402


def build(n_hist=12, n_freq=None, image_size=100, **kwargs):
    """build_model of the settings ``kwargs`` (n_hist = 3 * bins; n_freq: a fingerprint)."""
    if n_freq is not None:
        kwargs.setdefault("fingerprint", ("spectrum",))
    return build_model(TrainSettings(bins=n_hist // 3, **kwargs), n_freq, image_size)


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
    model = build(**TINY, head="gap")
    proba = model.predict(batch(6), verbose=0)
    assert proba.shape == (6, 5)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (proba > 0).all()


def test_inputs_are_a_dict_of_uint8_image_and_hist():
    model = build(**TINY, head="gap")
    assert set(model.input) == {"image", "hist"}
    assert model.input["image"].dtype == "uint8"
    assert tuple(model.input["image"].shape) == (None, 100, 100, 3)
    assert tuple(model.input["hist"].shape) == (None, 12)
    # The scaling to [0, 1] is the model's own first layer.
    assert model.get_layer("rescale").scale == pytest.approx(1 / 255)


def test_parameter_count_is_stable():
    model = build(**TINY, head="gap")
    assert model.count_params() == TINY_GAP_PARAMS


def test_flatten_head_adds_the_spatial_positions_to_the_dense_layer():
    gap = build(**TINY, head="gap").count_params()
    flat = build(**TINY, head="flatten").count_params()
    # GAP feeds f5=12 features to head_dense, Flatten 12*12*12=1728; 16 units.
    assert flat - gap == (12 * 12 * 12 - 12) * 16
    assert flat == 30585


def test_residual_adds_sit_where_designed():
    model = build(**TINY, head="gap")
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
    model = build(**{**TINY, "filters": (4, 6, 8, 8, 8)}, head="gap")
    names = {layer.name for layer in model.layers}
    assert "short3_proj" not in names and "short1_proj" in names
    res5 = model.get_layer("res5_add")
    assert [source(t) for t in res5.input] == ["block5_act", "block3_pool"]


def test_save_load_gives_identical_predictions(tmp_path):
    model = build(**TINY, head="flatten")
    compile_model(model, TrainSettings(learning_rate=1e-3, weight_decay=1e-4, epochs=2), 10)
    x = batch(5)
    before = model.predict(x, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), before)
    assert loaded.count_params() == model.count_params()


def test_mixed_precision_keeps_float32_variables_and_output():
    before = keras.mixed_precision.global_policy().name
    model = build(**TINY, head="gap", mixed_precision=True)
    assert keras.mixed_precision.global_policy().name == before  # not leaked
    assert model.get_layer("block2_conv").compute_dtype == "bfloat16"
    assert model.get_layer("block2_conv").kernel.dtype == "float32"
    assert model.get_layer("probs").compute_dtype == "float32"
    proba = model.predict(batch(4), verbose=0)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-3)
    assert model.count_params() == TINY_GAP_PARAMS


def test_settings_build_and_compile_with_a_cosine_schedule():
    changes = {"dropout": 0.5, "schedule": "cosine", "learning_rate": 0.002, "epochs": 7}
    params = TINY_TRAIN_PARAMS | changes
    model = build_model(settings(params))  # n_hist = 3 * bins = 12
    assert model.count_params() == TINY_GAP_PARAMS
    compile_model(model, settings(params), steps_per_epoch=9)
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
        build(**{**TINY, "head": "gap", **kwargs})
    # as the workflow reads a config: the settings object refuses them
    with pytest.raises(ValueError):
        settings(TINY_TRAIN_PARAMS | kwargs)


# --------------------------------------------------------------------------- families

# Tiny fast net: 2x2 patch stem to 50x50x4, stage 0 one residual block at 4,
# stage 1 a stride-2 conv to 25x25x8 then one residual block.
TINY_FAST = dict(
    n_hist=12, filters=(4, 8), blocks=(1, 1), hist_units=8, dense_units=16, dropout=0.5,
    network="fast", patch=2,
)  # fmt: skip
# stem 2*2*3*4=48 + BN 16 | stage0 block0 2 x (9*4*4=144 + BN 16) = 320
# stage1 down 9*4*8=288 + BN 32 | stage1 block0 2 x (9*8*8=576 + BN 32) = 1216
# hist_dense 12*8+8=104 | head_dense (8+8)*16=256 + BN 64 | probs 16*5+5=85
TINY_FAST_PARAMS = 2429
# Multiply-adds: stem 50*50*4*12=120,000 | stage0 2 x 50*50*4*36=720,000
# stage1 down 25*25*8*36=180,000 | stage1 2 x 25*25*8*72=720,000
# hist 12*8=96 | head 16*16=256 | probs 16*5=80
TINY_FAST_MACS = 1_740_432
# The same with a stride-1 3x3 stem (resnet) and no block in stage 1:
# stem 9*3*4=108 + 16 | stage0 block0 320 | stage1 down 320 | 104 + 256 + 64 + 85
TINY_RESNET = TINY_FAST | {"network": "resnet", "blocks": (1, 0)}
TINY_RESNET_PARAMS = 1273
# paper TINY: block1 100*100*4*27 | block2 50*50*6*36 | block3 25*25*8*54
# short1 25*25*8*4 | block4 12*12*8*72 | block5 12*12*12*72 | short3 12*12*12*8
# hist 96 | head (12+8)*16=320 | probs 80
TINY_PAPER_MACS = 1_080_000 + 540_000 + 270_000 + 20_000 + 82_944 + 124_416 + 13_824 + 96 + 320 + 80


def test_paper_is_the_default_network():
    assert build(**TINY, network="paper").count_params() == TINY_GAP_PARAMS
    params = TINY_TRAIN_PARAMS | {"network": "paper", "bn_momentum": 0.9}
    assert build_model(settings(params)).count_params() == TINY_GAP_PARAMS


def test_fast_network_shapes_and_parameter_count():
    model = build(**TINY_FAST)
    assert model.count_params() == TINY_FAST_PARAMS
    assert tuple(model.get_layer("stem_act").output.shape) == (None, 50, 50, 4)
    assert tuple(model.get_layer("stage0_block0_act").output.shape) == (None, 50, 50, 4)
    assert tuple(model.get_layer("stage1_down_act").output.shape) == (None, 25, 25, 8)
    assert source(model.get_layer("gap").input) == "stage1_block0_act"
    # No layer after the rescaling runs at the full 100x100 resolution.
    full = [
        layer.name
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
        and len(layer.output.shape) == 4
        and layer.output.shape[1] == 100
    ]
    assert full == ["rescale"]
    proba = model.predict(batch(3), verbose=0)
    assert proba.shape == (3, 5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def test_resnet_keeps_full_resolution_in_the_stem():
    model = build(**TINY_RESNET)
    assert model.count_params() == TINY_RESNET_PARAMS
    assert tuple(model.get_layer("stem_act").output.shape) == (None, 100, 100, 4)
    assert tuple(model.get_layer("stage0_block0_act").output.shape) == (None, 100, 100, 4)
    assert tuple(model.get_layer("stage1_down_act").output.shape) == (None, 50, 50, 8)
    # Residual block: the identity joins the second conv's normalised output.
    add = model.get_layer("stage0_block0_add")
    assert [source(t) for t in add.input] == ["stem_act", "stage0_block0_2_bn"]
    # Flatten sees the 50x50x8 grid.
    flat = build(**TINY_RESNET | {"head": "flatten"}).count_params()
    assert flat - TINY_RESNET_PARAMS == (50 * 50 * 8 - 8) * 16


def test_blocks_default_to_one_per_stage_and_patch_sets_the_stem():
    model = build(**TINY_FAST | {"blocks": None, "patch": 4})
    assert tuple(model.get_layer("stem_act").output.shape) == (None, 25, 25, 4)
    assert tuple(model.get_layer("stage1_down_act").output.shape) == (None, 13, 13, 8)
    assert {"stage0_block0_add", "stage1_block0_add"} <= {layer.name for layer in model.layers}


def test_multiply_adds_count_conv_and_dense_layers():
    assert multiply_adds(build(**TINY_FAST)) == TINY_FAST_MACS
    assert multiply_adds(build(**TINY, head="gap")) == TINY_PAPER_MACS


def test_the_residual_stem_adds_what_a_hand_count_says():
    """The fixed high-pass filter (3x3 depthwise over the 98x98 valid grid of 3 channels)
    and the residual's own 4x4 stride-4 patch conv to the stem's width at 25x25; the
    residual is computed in float32 and its filter is not trained."""
    settings = TINY_FAST | {"patch": 4}
    plain = build(**settings)
    model = build(**settings, residual_stem=True)
    width = settings["filters"][0]
    by_hand = 98 * 98 * 3 * (3 * 3) + 25 * 25 * width * (4 * 4 * 3)
    assert multiply_adds(model) - multiply_adds(plain) == by_hand
    highpass = model.get_layer("highpass")
    assert not highpass.trainable and highpass.compute_dtype == "float32"
    image = np.zeros((1, 100, 100, 3), np.uint8)
    image[0, 50, 50] = 255  # one bright pixel: its residual is 1 - 4/16 at the centre
    x = model.get_layer("rescale_f32")(image)
    residual = np.asarray(model.get_layer("highpass_pad")(highpass(x)))
    assert residual[0, 50, 50, 0] == pytest.approx(0.75)
    assert residual[0, 49, 50, 0] == pytest.approx(-2 / 16)
    assert residual[0, 0, 0, 0] == 0.0  # the border is left at zero


def test_training_flops_of_a_crop_follow_its_grid():
    """6 FLOPs per multiply-add; at 48x48 the paper network's grids are 48, 24, 12, 6."""
    s = TrainSettings(bins=4, **{k: v for k, v in TINY.items() if k != "n_hist"})
    assert TRAIN_FLOPS_PER_MAC == 6
    assert train_flops_per_image(s) == 6 * TINY_PAPER_MACS
    # block1 48*48*4*27 | block2 24*24*6*36 | block3 12*12*8*54 | short1 12*12*8*4
    # block4 6*6*8*72 | block5 6*6*12*72 | short3 6*6*12*8 | hist 96 | head 320 | probs 80
    macs = 248_832 + 124_416 + 62_208 + 4_608 + 20_736 + 31_104 + 3_456 + 96 + 320 + 80
    assert train_flops_per_image(s, image_size=48) == 6 * macs


@pytest.mark.parametrize("network", ["paper", "resnet", "fast"])
def test_bn_momentum_reaches_every_batch_norm(network):
    kwargs = TINY if network == "paper" else TINY_FAST | {"network": network}
    model = build(**kwargs, bn_momentum=0.97)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) >= 4
    assert {layer.momentum for layer in norms} == {0.97}
    assert build_model(settings(TINY_TRAIN_PARAMS | {"bn_momentum": 0.8})).get_layer(
        "head_bn"
    ).momentum == pytest.approx(0.8)


@pytest.mark.parametrize("kwargs", [TINY_FAST, TINY_RESNET])
def test_mixed_precision_of_the_new_families(kwargs):
    model = build(**kwargs, mixed_precision=True)
    assert model.get_layer("stem_conv").compute_dtype == "bfloat16"
    assert model.get_layer("stem_conv").kernel.dtype == "float32"
    assert model.get_layer("stage1_down_conv").compute_dtype == "bfloat16"
    assert model.get_layer("probs").compute_dtype == "float32"
    proba = model.predict(batch(4), verbose=0)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-3)
    assert model.count_params() == build(**kwargs).count_params()


def test_fingerprint_adds_a_third_input_and_its_branch():
    model = build(**TINY_FAST, n_freq=10, freq_units=6)
    assert set(model.input) == {"image", "hist", "freq"}
    assert model.input["freq"].dtype == "float32"
    assert tuple(model.input["freq"].shape) == (None, 10)
    # freq_bn 4*10 | freq_dense 10*6+6 | head_dense gains 6*16 inputs' weights
    assert model.count_params() == TINY_FAST_PARAMS + 40 + 66 + 96
    assert source(model.get_layer("freq_dense").input) == "freq_bn"
    concat = model.get_layer("concat")
    assert [source(t) for t in concat.input] == ["gap", "hist_dense", "freq_dense"]
    x = batch(3) | {"freq": np.random.default_rng(0).random((3, 10), dtype=np.float32)}
    assert model.predict(x, verbose=0).shape == (3, 5)


def test_settings_wire_the_fingerprint():
    params = TINY_TRAIN_PARAMS | {"network": "fast", "filters": [4, 8], "blocks": [1, 1]}
    plain = build_model(settings(params))
    assert set(plain.input) == {"image", "hist"}
    # none ignores a given n_freq: the rule may always pass it.
    assert set(build_model(settings(params | {"fingerprint": []}), n_freq=7).input) == {
        "image", "hist",
    }  # fmt: skip
    both = {"fingerprint": ["spectrum", "cooc"], "freq_units": 6}
    model = build_model(settings(params | both), 7)
    assert tuple(model.input["freq"].shape) == (None, 7)
    with pytest.raises(ValueError, match="spectrum.*n_freq"):
        build_model(settings(params | {"fingerprint": ["spectrum"]}))
    for wrong in (["wavelet"], ["cooc", "cooc"]):
        with pytest.raises(ValueError, match="fingerprint"):
            settings(params | {"fingerprint": wrong})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"network": "vgg"},
        {"network": "fast", "filters": (4, 8), "blocks": (1,)},
        {"network": "fast", "filters": (4, 8), "blocks": (1, -1)},
        {"network": "fast", "filters": (4, 8), "patch": 1},
        {"network": "resnet", "filters": ()},
        {"bn_momentum": 1.0},
    ],
)
def test_invalid_family_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        build(**{**TINY, **kwargs})


@pytest.mark.parametrize(
    "kwargs",
    [
        TINY | {"n_hist": 12},
        TINY_FAST,
        TINY_RESNET | {"blocks": (1, 1)},
        TINY_FAST | {"n_freq": 10, "mixed_precision": True},
    ],
    ids=["paper", "fast", "resnet", "fast-freq-bf16"],
)
def test_every_family_learns_the_separable_fixture(kwargs):
    keras.utils.set_random_seed(0)
    train, val = separable(320, seed=0), separable(160, seed=1)
    freq = "n_freq" in kwargs

    def x(split, seed):
        out = {"image": split["image"], "hist": split["hist"]}
        if freq:  # a fingerprint that carries the label too, on its own scale
            rng = np.random.default_rng(seed)
            out["freq"] = rng.normal(5, 2, (len(split["label"]), 10)) + split["label"][:, None]
            out["freq"] = out["freq"].astype(np.float32)
        return out

    model = build(**{"dropout": 0.3, **kwargs}, seed=1)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x(train, 0), train["label"], batch_size=32, epochs=5, verbose=0, shuffle=True)
    proba = model.predict(x(val, 1), verbose=0)
    assert np.mean(proba.argmax(1) == val["label"]) > 0.9
