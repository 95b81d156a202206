"""Dual-input CNN: a residual conv stack on the image plus a histogram branch.

Keras 3 API only (no ``tensorflow`` import), so the same code runs on the
TensorFlow, JAX or PyTorch backend. Import :mod:`deepfake.backend` and call
``configure`` first when threads or determinism matter.

Layout (sizes for the 100x100 input)::

    image uint8 -> Rescaling(1/255)
    block1 conv f1 @100x100 ──────────────┐ x1
    pool -> 50   block2 conv f2 @50x50    │
    pool -> 25   block3 conv f3 @25x25    │
                 add(block3, P1(x1))  <───┘  P1: AvgPool 4 (100->25), 1x1 conv f3, BN
    pool -> 12 = p3 ──────────────────────┐
                 block4 conv f4 @12x12    │
                 block5 conv f5 @12x12    │
                 add(block5, P3(p3))  <───┘  P3: 1x1 conv f5 + BN (identity if f3 == f5)
    GAP or Flatten ─┐
    hist -> Dense(hist_units, relu) ─┴─ concat -> Dense -> BN -> LeakyReLU -> Dropout
                                        -> Dense(5, softmax, float32)

Each conv block is Conv2D(3x3, same, he_normal, no bias) -> BatchNormalization
-> LeakyReLU(0.1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
from keras import layers

from deepfake import IMAGE_SIZE, N_CLASSES
from deepfake.backend import dtype_policy

HEADS = ("gap", "flatten")
SCHEDULES = ("plateau", "cosine")
# Moving-average momentum of every BatchNormalization (keras' default is 0.99).
# 0.9 (PyTorch's default) lets the inference statistics catch up within the
# ~50 steps of a demo epoch; with 0.99 the first epochs' validation scores are
# computed with statistics still near their initial values.
BN_MOMENTUM = 0.9


def _conv_block(x, filters: int, name: str):
    x = layers.Conv2D(
        filters,
        3,
        padding="same",
        kernel_initializer="he_normal",
        use_bias=False,  # BatchNormalization's beta is the bias
        name=f"{name}_conv",
    )(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.LeakyReLU(0.1, name=f"{name}_act")(x)


def _projection(x, filters: int, pool: int, name: str):
    """Shortcut matched to the target's shape: average pooling, then a 1x1 conv + BN.

    Average (not max) pooling keeps the mean of the low-level responses the
    shortcut exists to carry; the 1x1 conv maps the channels and BN puts the
    shortcut on the same scale as the normalised main path before the add.
    Pooling first makes the 1x1 conv 16x cheaper on block 1's 100x100 output.
    """
    if pool > 1:
        x = layers.AveragePooling2D(pool, name=f"{name}_pool")(x)
    if x.shape[-1] != filters:
        x = layers.Conv2D(
            filters, 1, kernel_initializer="he_normal", use_bias=False, name=f"{name}_proj"
        )(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return x


def build_model(
    n_hist: int,
    filters: Sequence[int] = (16, 32, 64, 96, 96),
    hist_units: int = 64,
    dense_units: int = 256,
    dropout: float = 0.5,
    head: str = "gap",
    mixed_precision: bool = False,
    seed: int | None = None,
) -> keras.Model:
    """The uncompiled model; inputs ``{"image": uint8 (100,100,3), "hist": (n_hist,)}``.

    mixed_precision: build under the ``mixed_bfloat16`` policy (computations in
    bfloat16, variables and the softmax output in float32).
    seed: the dropout layer's seed. With a seed, every backend draws the dropout
        masks from keras' own seed state, which is a model variable and so is
        checkpointed (unseeded, the PyTorch backend uses torch's global RNG, whose
        state a resumed run would not get back).
    """
    if len(filters) != 5:
        raise ValueError(f"filters must list five conv blocks, got {list(filters)}")
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    f1, f2, f3, f4, f5 = (int(f) for f in filters)
    with dtype_policy(mixed_precision):
        image = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), dtype="uint8", name="image")
        hist = keras.Input((n_hist,), dtype="float32", name="hist")

        # The network sees uint8 pixels (4x less to batch and copy than float32)
        # and scales them itself, so no caller can forget or double the scaling.
        x = layers.Rescaling(1.0 / 255, name="rescale")(image)

        x1 = _conv_block(x, f1, "block1")  # 100x100xf1
        x = layers.MaxPooling2D(2, name="block1_pool")(x1)  # 50x50
        x = _conv_block(x, f2, "block2")
        x = layers.MaxPooling2D(2, name="block2_pool")(x)  # 25x25
        x = _conv_block(x, f3, "block3")  # 25x25xf3

        # Residual connections. Generator fingerprints are low-level (colour
        # casts, up-sampling and noise patterns), exactly what block 1 sees
        # and what repeated max-pooling and re-mixing in deeper blocks can wash
        # out. The shortcuts let block 1's features reach block 3 and, through
        # that sum, block 5 and the head directly, and give the gradient a
        # short path back to the first layers (the 5-block stack trains faster
        # and more stably). Block 1's output is added BEFORE block 3's pool:
        # it is pooled 4x (100 -> 25) and projected to f3 channels to match.
        x = layers.Add(name="res3_add")([x, _projection(x1, f3, 4, "short1")])
        p3 = layers.MaxPooling2D(2, name="block3_pool")(x)  # 12x12xf3 (25 // 2)

        x = _conv_block(p3, f4, "block4")  # 12x12xf4
        x = _conv_block(x, f5, "block5")  # 12x12xf5
        # The (block 1 + block 3) sum, as pooled for block 4, joins block 5's
        # output; same 12x12 grid, so only the channels may need projecting.
        x = layers.Add(name="res5_add")([x, _projection(p3, f5, 1, "short3")])

        if head == "gap":
            x = layers.GlobalAveragePooling2D(name="gap")(x)
        else:
            x = layers.Flatten(name="flatten")(x)

        h = layers.Dense(hist_units, activation="relu", name="hist_dense")(hist)
        z = layers.Concatenate(name="concat")([x, h])
        z = layers.Dense(dense_units, use_bias=False, name="head_dense")(z)
        z = layers.BatchNormalization(momentum=BN_MOMENTUM, name="head_bn")(z)
        z = layers.LeakyReLU(0.1, name="head_act")(z)
        z = layers.Dropout(dropout, seed=seed, name="head_dropout")(z)
        # float32 softmax: stable probabilities and loss under mixed precision.
        out = layers.Dense(N_CLASSES, activation="softmax", dtype="float32", name="probs")(z)
    return keras.Model({"image": image, "hist": hist}, out, name="dual_cnn")


def build_from_params(params: Mapping, n_hist: int | None = None) -> keras.Model:
    """:func:`build_model` from a ``cnn`` params dict (``config.yaml``'s cnn.base + overrides).

    n_hist defaults to ``3 * params["bins"]`` (H, S and V histograms).
    """
    if n_hist is None:
        n_hist = 3 * int(params["bins"])
    return build_model(
        n_hist=n_hist,
        filters=params["filters"],
        hist_units=int(params["hist_units"]),
        dense_units=int(params["dense_units"]),
        dropout=float(params["dropout"]),
        head=params.get("head", "gap"),
        mixed_precision=bool(params.get("mixed_precision", False)),
        seed=int(params.get("seed", 0)),
    )
