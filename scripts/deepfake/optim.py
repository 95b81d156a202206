"""Optimizer, loss and learning-rate schedules of the CNN (Keras API only).

Every training option the loop reads, with the value that keeps the report's
recipe, is in :data:`TRAIN_DEFAULTS`; ``params.get(key, TRAIN_DEFAULTS[key])``
is how the loop reads them, so a params dict written before an option existed
trains exactly as it did. (The defaults are not JSON-schema ``default``s: the
schema's ``cnn_settings`` also describes the variants' overrides, and a filled-in
default there would override cnn.base.)
"""

from __future__ import annotations

from collections.abc import Mapping

import keras

SCHEDULES = ("plateau", "cosine", "onecycle", "warmup_cosine")
# One-cycle starts (and PyTorch's OneCycleLR starts) at the peak rate / 25.
ONECYCLE_DIV = 25.0

TRAIN_DEFAULTS = {
    "select_on_validation": True,  # report protocol: plateau + early stopping on val_accuracy
    "label_smoothing": 0.0,
    "mixup_alpha": 0.0,  # Beta(alpha, alpha) mixing weight; 0 = off
    "cutmix_alpha": 0.0,
    "mix_prob": 1.0,  # probability that a batch is mixed (when an alpha is > 0)
    "flip": False,  # random horizontal flips
    "shift": 0,  # random integer shifts of up to this many pixels
    "warmup_epochs": 1.0,  # linear warm-up of onecycle and warmup_cosine
    "ema": 0.0,  # momentum of the moving average of the weights; 0 = off
    "precise_bn": 0,  # training images to recompute BatchNorm statistics over; 0 = off
    "tta": [],  # test-time transforms averaged with the identity, e.g. [hflip]
}


def setting(params: Mapping, key: str):
    """``params[key]``, or the option's default when the params predate it."""
    return params.get(key, TRAIN_DEFAULTS[key])


def learning_rate(params: Mapping, steps_per_epoch: int):
    """The rate (a float for plateau) or LearningRateSchedule of the params.

    plateau: constant, lowered by ReduceLROnPlateau; cosine: CosineDecay to 0
    over the run; warmup_cosine: linear warm-up from 0 to the rate over
    ``warmup_epochs``, then half-cosine to 0 at the end of the run; onecycle:
    the same from rate / 25 (PyTorch's OneCycleLR with cosine annealing).

    keras' own CosineDecay (with ``warmup_target``) does all of them, so a saved
    model.keras loads anywhere, without this package registering a class.
    """
    schedule = params.get("schedule", "plateau")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    lr = float(params["learning_rate"])
    total = max(1, int(params["epochs"]) * int(steps_per_epoch))
    if schedule == "plateau":
        return lr
    warmup = 0
    if schedule in ("onecycle", "warmup_cosine"):
        warmup = min(round(float(setting(params, "warmup_epochs")) * steps_per_epoch), total - 1)
    if warmup <= 0:
        return keras.optimizers.schedules.CosineDecay(lr, decay_steps=total)
    start = lr / ONECYCLE_DIV if schedule == "onecycle" else 0.0
    return keras.optimizers.schedules.CosineDecay(
        start, decay_steps=total - warmup, warmup_target=lr, warmup_steps=warmup
    )


def compile_model(model: keras.Model, params: Mapping, steps_per_epoch: int) -> keras.Model:
    """AdamW (with an EMA of the weights when ``ema`` > 0) + categorical
    cross-entropy on one-hot (soft) labels with ``label_smoothing`` + accuracy.

    The labels are one-hot so that MixUp/CutMix targets work; the metric keeps
    the name ``accuracy`` (history columns accuracy, val_accuracy).
    """
    ema = float(setting(params, "ema"))
    if not 0.0 <= ema < 1.0:
        raise ValueError(f"ema must be in [0, 1), got {ema}")
    # jit_compile: XLA on TensorFlow, torch.compile on PyTorch. JAX has no
    # compiled path but jax.jit (without it keras runs op by op, many times
    # slower), so it is always on there.
    jit_compile = bool(params.get("jit_compile", False)) or keras.backend.backend() == "jax"
    optimizer = keras.optimizers.AdamW(
        learning_rate=learning_rate(params, steps_per_epoch),
        weight_decay=float(params["weight_decay"]),
        use_ema=ema > 0,
        ema_momentum=ema if ema > 0 else 0.99,
    )
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(
            label_smoothing=float(setting(params, "label_smoothing"))
        ),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile,
    )
    return model
