"""Dual-input CNN architectures: a conv stack on the image plus a histogram branch.

Keras 3 API only (no ``tensorflow`` import), so the same code runs on the
TensorFlow, JAX or PyTorch backend. Import :mod:`deepfake.backend` and call
``configure`` first when threads or determinism matter.

Three architectures of image trunk, chosen per variant with ``network``; they share
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

Head of every architecture::

    GAP or Flatten ─┐
    hist -> Dense(hist_units, relu) ─┤
    [freq -> BN -> Dense(freq_units, relu)] ─┴─ concat -> Dense -> BN -> LeakyReLU
        -> Dropout -> Dense(5, softmax, float32)

Each conv block is Conv2D(3x3, same, he_normal, no bias) -> BatchNormalization
-> LeakyReLU(0.1). Tensors are channels-last (keras' default), the layout
oneDNN and XLA run fastest on CPUs.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import layers

from deepfake import IMAGE_SIZE, N_CLASSES
from deepfake.backend import dtype_policy
from deepfake.settings import TrainSettings


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


# The 3x3 binomial blur whose complement is the high-pass residual: the filter of the
# spectrum descriptor (deepfake.descriptors), here applied in the pixel domain.
BINOMIAL = np.outer([1, 2, 1], [1, 2, 1]) / 16.0


def highpass_residual(x32):
    """Each channel minus its 3x3 binomial blur (a fixed, untrained filter), in float32
    whatever the policy: the residual is a few grey levels, which bfloat16 keeps only
    when it is computed before the cast. Border pixels are 0 (no padding invented)."""
    kernel = -np.repeat(BINOMIAL[:, :, None, None], 3, axis=2)
    kernel[1, 1] += 1.0
    r = layers.DepthwiseConv2D(
        3,
        padding="valid",
        use_bias=False,
        depthwise_initializer=keras.initializers.Constant(kernel),
        trainable=False,
        dtype="float32",
        name="highpass",
    )(x32)
    return layers.ZeroPadding2D(1, dtype="float32", name="highpass_pad")(r)


def _stem(x, width: int, stem: int, name: str, bn_momentum: float):
    """A stem x stem stride-stem conv (3x3 stride 1 when ``stem`` is 1), then BN."""
    x = layers.Conv2D(
        width,
        3 if stem == 1 else stem,
        strides=stem,
        padding="same" if stem == 1 else "valid",
        kernel_initializer="he_normal",
        use_bias=False,
        name=f"{name}_conv",
    )(x)
    return layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)


def _staged_trunk(
    x,
    filters: Sequence[int],
    blocks: Sequence[int],
    stem: int,
    bn_momentum: float,
    residual=None,
):
    """Stem (3x3 stride 1 when ``stem`` is 1, else a stem x stem patch conv), then stages.
    ``residual``: the high-pass residual, projected by a stem of its own and added."""
    m = bn_momentum
    x = _stem(x, filters[0], stem, "stem", m)
    if residual is not None:
        x = layers.Add(name="stem_add")([x, _stem(residual, filters[0], stem, "stem_hp", m)])
    x = layers.LeakyReLU(0.1, name="stem_act")(x)
    for s, (width, n_blocks) in enumerate(zip(filters, blocks, strict=True)):
        if s > 0:  # halve the grid, widen
            x = _conv_block(x, width, f"stage{s}_down", m, strides=2)
        for b in range(n_blocks):
            x = _residual_block(x, f"stage{s}_block{b}", m)
    return x


def build_model(
    settings: TrainSettings, n_freq: int | None = None, image_size: int | None = IMAGE_SIZE
) -> keras.Model:
    """The uncompiled model of ``settings``; inputs ``{"image": uint8 (S, S, 3),
    "hist": (3 * bins,)}`` plus ``"freq": (n_freq,)`` float32 when the settings ask
    for a fingerprint (``n_freq``: its length, required then).

    image_size: the image side S, or None for any size (what a variant trained on
    random crops needs: it trains on crops and is evaluated on whole images;
    the global-average-pooling head makes the trunk size-agnostic).

    ``mixed_precision`` builds under the ``mixed_bfloat16`` policy (computations in
    bfloat16, variables and the softmax output in float32); ``"auto"`` must be
    resolved first (:func:`deepfake.backend.resolve_precision`). The dropout layer is
    seeded with ``seed``: every backend then draws its masks from keras' own seed
    state, a model variable, so it is checkpointed (unseeded, the PyTorch backend
    uses torch's global RNG, whose state a resumed run would not get back).
    """
    s = settings
    if not s.fingerprint:
        n_freq = None
    elif n_freq is None:
        raise ValueError(
            f"the settings ask for the fingerprint input {list(s.fingerprint)} but no n_freq "
            "was given (the summed length of its descriptors' rows)"
        )
    if s.mixed_precision not in (True, False):
        raise ValueError(f"mixed_precision {s.mixed_precision!r} must be resolved before building")
    if image_size is not None and s.head == "flatten" and image_size != IMAGE_SIZE:
        raise ValueError("the flatten head is built for whole images only")
    with dtype_policy(s.mixed_precision):
        image = keras.Input((image_size, image_size, 3), dtype="uint8", name="image")
        hist = keras.Input((s.n_hist,), dtype="float32", name="hist")
        inputs = {"image": image, "hist": hist}

        # The network sees uint8 pixels (4x less to batch and copy than float32)
        # and scales them itself, so no caller can forget or double the scaling.
        x = layers.Rescaling(1.0 / 255, name="rescale")(image)
        if s.network == "paper":
            x = _paper_trunk(x, s.filters, s.bn_momentum)
        else:
            stem = 1 if s.network == "resnet" else s.patch
            residual = None
            if s.residual_stem:
                x32 = layers.Rescaling(1.0 / 255, dtype="float32", name="rescale_f32")(image)
                residual = highpass_residual(x32)
            x = _staged_trunk(x, s.filters, s.blocks_per_stage, stem, s.bn_momentum, residual)

        if s.head == "gap":
            x = layers.GlobalAveragePooling2D(name="gap")(x)
        else:
            x = layers.Flatten(name="flatten")(x)

        branches = [x, layers.Dense(s.hist_units, activation="relu", name="hist_dense")(hist)]
        if n_freq is not None:
            freq = keras.Input((int(n_freq),), dtype="float32", name="freq")
            inputs["freq"] = freq
            # The log-spectrum values sit far from zero with per-bin scales that
            # differ by orders of magnitude: BN standardises each bin first.
            f = layers.BatchNormalization(momentum=s.bn_momentum, name="freq_bn")(freq)
            branches.append(layers.Dense(s.freq_units, activation="relu", name="freq_dense")(f))
        z = layers.Concatenate(name="concat")(branches)
        z = layers.Dense(s.dense_units, use_bias=False, name="head_dense")(z)
        z = layers.BatchNormalization(momentum=s.bn_momentum, name="head_bn")(z)
        z = layers.LeakyReLU(0.1, name="head_act")(z)
        z = layers.Dropout(s.dropout, seed=s.seed, name="head_dropout")(z)
        # float32 softmax: stable probabilities and loss under mixed precision.
        out = layers.Dense(N_CLASSES, activation="softmax", dtype="float32", name="probs")(z)
    name = "dual_cnn" if s.network == "paper" else f"{s.network}_cnn"
    return keras.Model(inputs, out, name=name)


def multiply_adds(model: keras.Model) -> int:
    """Multiply-adds of one image through the model's Conv2D and Dense layers (a model
    built for a fixed image size).

    Conv2D: output height x width x filters x (kernel area x input channels);
    DepthwiseConv2D (the residual stem's fixed filter): output height x width x channels x
    kernel area; Dense: inputs x units. Biases, BatchNormalization, activations and pooling
    (a few percent, but memory-bound on CPUs) are not counted.
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.DepthwiseConv2D):  # one filter per input channel
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            total += int(h) * int(w) * int(c_out) * int(kh) * int(kw)
        elif isinstance(layer, layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw, c_in, _ = layer.kernel.shape
            total += int(h) * int(w) * int(c_out) * int(kh) * int(kw) * int(c_in)
        elif isinstance(layer, layers.Dense):
            n_in, n_out = layer.kernel.shape
            total += int(n_in) * int(n_out)
    return total


# Floating-point operations of one training step per multiply-add of the forward
# pass: 2 (a multiply-add is two operations) x 3 (the backward pass costs about
# twice the forward: gradients of the activations and of the weights).
TRAIN_FLOPS_PER_MAC = 6


def train_flops_per_image(
    settings: TrainSettings, n_freq: int | None = None, image_size: int = IMAGE_SIZE
) -> int:
    """Training FLOPs of one image pass at ``image_size`` x ``image_size``:
    :data:`TRAIN_FLOPS_PER_MAC` x the forward multiply-adds of the variant's model."""
    model = build_model(settings.replace(mixed_precision=False), n_freq, image_size=image_size)
    return TRAIN_FLOPS_PER_MAC * multiply_adds(model)
