"""Dual-input CNN families: a conv stack on the image plus a histogram branch.

Keras 3 API only (no ``tensorflow`` import), so the same code runs on the
TensorFlow, JAX or PyTorch backend. Import :mod:`deepfake.backend` and call
``configure`` first when threads or determinism matter.

Three families of image trunk, chosen per variant with ``network``; they share
the inputs, the histogram branch (and the optional frequency branch) and the
head, so the ablations compare trunks only.

``paper`` (the report's model; sizes for the 100x100 input)::

    image uint8 -> Rescaling(1/255)
    block1 conv f1 @100x100 ──────────────┐ x1
    pool -> 50   block2 conv f2 @50x50    │
    pool -> 25   block3 conv f3 @25x25    │
                 add(block3, P1(x1))  <───┘  P1: AvgPool 4 (100->25), 1x1 conv f3, BN
    pool -> 12 = p3 ──────────────────────┐
                 block4 conv f4 @12x12    │
                 block5 conv f5 @12x12    │
                 add(block5, P3(p3))  <───┘  P3: 1x1 conv f5 + BN (identity if f3 == f5)

``resnet`` (accuracy): a 3x3 stride-1 stem at full resolution (no early
downsampling: generator fingerprints are pixel-level and high-frequency), then
one stage per entry of ``filters``; stage 0 keeps the stem's 100x100 grid,
every later stage opens with a stride-2 3x3 conv to its width, and each stage
has ``blocks[i]`` basic residual blocks (conv-BN-act-conv-BN + identity, act).

``fast`` (time to accuracy on CPUs): the same stages behind a ``patch`` x
``patch`` stride-``patch`` stem (space-to-depth by a learned linear map: with at
least 3 * patch**2 channels it can keep every pixel value, unlike pooling), so
no layer runs at 100x100.

Head of every family::

    GAP or Flatten ─┐
    hist -> Dense(hist_units, relu) ─┤
    [freq -> BN -> Dense(freq_units, relu)] ─┴─ concat -> Dense -> BN -> LeakyReLU
        -> Dropout -> Dense(5, softmax, float32)

Each conv block is Conv2D(3x3, same, he_normal, no bias) -> BatchNormalization
-> LeakyReLU(0.1). Tensors are channels-last (keras' default), the layout
oneDNN and XLA run fastest on CPUs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
from keras import layers

from deepfake import IMAGE_SIZE, N_CLASSES
from deepfake.backend import dtype_policy

HEADS = ("gap", "flatten")
NETWORKS = ("paper", "resnet", "fast")
FINGERPRINTS = ("none", "spectrum")
# Moving-average momentum of every BatchNormalization (keras' default is 0.99).
# 0.9 (PyTorch's default) lets the inference statistics catch up within the
# ~50 steps of a demo epoch; with 0.99 the first epochs' validation scores are
# computed with statistics still near their initial values. Per variant:
# ``bn_momentum``.
BN_MOMENTUM = 0.9
FREQ_UNITS = 32
FAST_PATCH = 2


def _conv_block(x, filters: int, name: str, bn_momentum: float, strides: int = 1):
    x = layers.Conv2D(
        filters,
        3,
        strides=strides,
        padding="same",
        kernel_initializer="he_normal",
        use_bias=False,  # BatchNormalization's beta is the bias
        name=f"{name}_conv",
    )(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)
    return layers.LeakyReLU(0.1, name=f"{name}_act")(x)


def _projection(x, filters: int, pool: int, name: str, bn_momentum: float):
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
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)
    return x


def _paper_trunk(x, filters: Sequence[int], bn_momentum: float):
    if len(filters) != 5:
        raise ValueError(f"network paper: filters must list five conv blocks, got {list(filters)}")
    f1, f2, f3, f4, f5 = filters
    m = bn_momentum
    x1 = _conv_block(x, f1, "block1", m)  # 100x100xf1
    x = layers.MaxPooling2D(2, name="block1_pool")(x1)  # 50x50
    x = _conv_block(x, f2, "block2", m)
    x = layers.MaxPooling2D(2, name="block2_pool")(x)  # 25x25
    x = _conv_block(x, f3, "block3", m)  # 25x25xf3

    # Residual connections. Generator fingerprints are low-level (colour
    # casts, up-sampling and noise patterns), exactly what block 1 sees
    # and what repeated max-pooling and re-mixing in deeper blocks can wash
    # out. The shortcuts let block 1's features reach block 3 and, through
    # that sum, block 5 and the head directly, and give the gradient a
    # short path back to the first layers (the 5-block stack trains faster
    # and more stably). Block 1's output is added BEFORE block 3's pool:
    # it is pooled 4x (100 -> 25) and projected to f3 channels to match.
    x = layers.Add(name="res3_add")([x, _projection(x1, f3, 4, "short1", m)])
    p3 = layers.MaxPooling2D(2, name="block3_pool")(x)  # 12x12xf3 (25 // 2)

    x = _conv_block(p3, f4, "block4", m)  # 12x12xf4
    x = _conv_block(x, f5, "block5", m)  # 12x12xf5
    # The (block 1 + block 3) sum, as pooled for block 4, joins block 5's
    # output; same 12x12 grid, so only the channels may need projecting.
    return layers.Add(name="res5_add")([x, _projection(p3, f5, 1, "short3", m)])


def _residual_block(x, name: str, bn_momentum: float):
    """conv-BN-act, conv-BN, + identity, act (the input already has the width)."""
    y = _conv_block(x, x.shape[-1], f"{name}_1", bn_momentum)
    y = layers.Conv2D(
        x.shape[-1],
        3,
        padding="same",
        kernel_initializer="he_normal",
        use_bias=False,
        name=f"{name}_2_conv",
    )(y)
    # gamma starts at 0: each block starts as the identity, so a deep stack
    # trains like a shallow one at first (Goyal et al. 2017).
    y = layers.BatchNormalization(
        momentum=bn_momentum, gamma_initializer="zeros", name=f"{name}_2_bn"
    )(y)
    y = layers.Add(name=f"{name}_add")([x, y])
    return layers.LeakyReLU(0.1, name=f"{name}_act")(y)


def _staged_trunk(x, filters: Sequence[int], blocks: Sequence[int], stem: int, bn_momentum: float):
    """Stem (3x3 stride 1 when ``stem`` is 1, else a stem x stem patch conv), then stages."""
    if len(blocks) != len(filters):
        raise ValueError(
            f"blocks must give one count per stage of filters {list(filters)}, got {list(blocks)}"
        )
    if any(b < 0 for b in blocks):
        raise ValueError(f"blocks must be >= 0, got {list(blocks)}")
    m = bn_momentum
    if stem == 1:
        x = _conv_block(x, filters[0], "stem", m)
    else:
        x = layers.Conv2D(
            filters[0],
            stem,
            strides=stem,
            kernel_initializer="he_normal",
            use_bias=False,
            name="stem_conv",
        )(x)
        x = layers.BatchNormalization(momentum=m, name="stem_bn")(x)
        x = layers.LeakyReLU(0.1, name="stem_act")(x)
    for s, (width, n_blocks) in enumerate(zip(filters, blocks, strict=True)):
        if s > 0:  # halve the grid, widen
            x = _conv_block(x, width, f"stage{s}_down", m, strides=2)
        for b in range(n_blocks):
            x = _residual_block(x, f"stage{s}_block{b}", m)
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
    network: str = "paper",
    blocks: Sequence[int] | None = None,
    patch: int = FAST_PATCH,
    bn_momentum: float = BN_MOMENTUM,
    n_freq: int | None = None,
    freq_units: int = FREQ_UNITS,
) -> keras.Model:
    """The uncompiled model; inputs ``{"image": uint8 (100,100,3), "hist": (n_hist,)}``
    plus ``"freq": (n_freq,)`` float32 when ``n_freq`` is given.

    network: ``paper`` (five conv blocks, ``filters`` of length 5, ``blocks``
        unused), ``resnet`` or ``fast`` (one stage per ``filters`` entry with
        ``blocks[i]`` residual blocks; default one per stage). ``patch``: the
        fast stem's patch size (the stem is stride 1 in ``resnet``).
    mixed_precision: build under the ``mixed_bfloat16`` policy (computations in
        bfloat16, variables and the softmax output in float32).
    seed: the dropout layer's seed. With a seed, every backend draws the dropout
        masks from keras' own seed state, which is a model variable and so is
        checkpointed (unseeded, the PyTorch backend uses torch's global RNG, whose
        state a resumed run would not get back).
    n_freq: length of the frequency fingerprint (third input); None: no such input.
    """
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {NETWORKS}, got {network!r}")
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    if not 0 <= bn_momentum < 1:
        raise ValueError(f"bn_momentum must be in [0, 1), got {bn_momentum}")
    filters = [int(f) for f in filters]
    if not filters or min(filters) < 1:
        raise ValueError(f"filters must be positive widths, got {filters}")
    if network == "paper" and blocks is not None:
        raise ValueError("blocks applies to the resnet and fast networks, not paper")
    if network == "fast" and not 2 <= int(patch) <= 10:
        raise ValueError(f"patch must be in 2..10, got {patch}")
    blocks = [1] * len(filters) if blocks is None else [int(b) for b in blocks]
    with dtype_policy(mixed_precision):
        image = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), dtype="uint8", name="image")
        hist = keras.Input((n_hist,), dtype="float32", name="hist")
        inputs = {"image": image, "hist": hist}

        # The network sees uint8 pixels (4x less to batch and copy than float32)
        # and scales them itself, so no caller can forget or double the scaling.
        x = layers.Rescaling(1.0 / 255, name="rescale")(image)
        if network == "paper":
            x = _paper_trunk(x, filters, bn_momentum)
        else:
            stem = 1 if network == "resnet" else int(patch)
            x = _staged_trunk(x, filters, blocks, stem, bn_momentum)

        if head == "gap":
            x = layers.GlobalAveragePooling2D(name="gap")(x)
        else:
            x = layers.Flatten(name="flatten")(x)

        branches = [x, layers.Dense(hist_units, activation="relu", name="hist_dense")(hist)]
        if n_freq is not None:
            freq = keras.Input((int(n_freq),), dtype="float32", name="freq")
            inputs["freq"] = freq
            # The log-spectrum values sit far from zero with per-bin scales that
            # differ by orders of magnitude: BN standardises each bin first.
            f = layers.BatchNormalization(momentum=bn_momentum, name="freq_bn")(freq)
            branches.append(layers.Dense(freq_units, activation="relu", name="freq_dense")(f))
        z = layers.Concatenate(name="concat")(branches)
        z = layers.Dense(dense_units, use_bias=False, name="head_dense")(z)
        z = layers.BatchNormalization(momentum=bn_momentum, name="head_bn")(z)
        z = layers.LeakyReLU(0.1, name="head_act")(z)
        z = layers.Dropout(dropout, seed=seed, name="head_dropout")(z)
        # float32 softmax: stable probabilities and loss under mixed precision.
        out = layers.Dense(N_CLASSES, activation="softmax", dtype="float32", name="probs")(z)
    return keras.Model(inputs, out, name="dual_cnn" if network == "paper" else f"{network}_cnn")


def build_from_params(
    params: Mapping, n_hist: int | None = None, n_freq: int | None = None
) -> keras.Model:
    """:func:`build_model` from a ``cnn`` params dict (``config.yaml``'s cnn.base + overrides).

    n_hist defaults to ``3 * params["bins"]`` (H, S and V histograms). n_freq:
    length of the fingerprint vectors; required when ``params["fingerprint"]``
    is not ``"none"`` (and then the model has the third input ``freq``).
    """
    if n_hist is None:
        n_hist = 3 * int(params["bins"])
    fingerprint = params.get("fingerprint", "none")
    if fingerprint not in FINGERPRINTS:
        raise ValueError(f"fingerprint must be one of {FINGERPRINTS}, got {fingerprint!r}")
    if fingerprint == "none":
        n_freq = None
    elif n_freq is None:
        raise ValueError(
            f"params ask for the {fingerprint!r} fingerprint input but no n_freq was given "
            f"(the length of results/features/{fingerprint}/<set>.npy rows)"
        )
    network = params.get("network", "paper")
    extra = {}
    if network != "paper":
        extra["blocks"] = params.get("blocks")
        extra["patch"] = int(params.get("patch", FAST_PATCH))
    return build_model(
        n_hist=n_hist,
        filters=params["filters"],
        hist_units=int(params["hist_units"]),
        dense_units=int(params["dense_units"]),
        dropout=float(params["dropout"]),
        head=params.get("head", "gap"),
        mixed_precision=bool(params.get("mixed_precision", False)),
        seed=int(params.get("seed", 0)),
        network=network,
        bn_momentum=float(params.get("bn_momentum", BN_MOMENTUM)),
        n_freq=n_freq,
        freq_units=int(params.get("freq_units", FREQ_UNITS)),
        **extra,
    )


def flops_per_image(model: keras.Model) -> int:
    """Multiply-adds of one image through the model's Conv2D and Dense layers.

    Conv2D: output height x width x filters x (kernel area x input channels);
    Dense: inputs x units. Biases, BatchNormalization, activations and pooling
    (a few percent, but memory-bound on CPUs) are not counted. One multiply-add
    is two floating-point operations.
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw, c_in, _ = layer.kernel.shape
            total += int(h) * int(w) * int(c_out) * int(kh) * int(kw) * int(c_in)
        elif isinstance(layer, layers.Dense):
            n_in, n_out = layer.kernel.shape
            total += int(n_in) * int(n_out)
    return total
