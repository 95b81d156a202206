"""Optimizer, loss and learning-rate schedules of the CNN (Keras API only).

Every setting is read from one :class:`deepfake.settings.TrainSettings`, whose
defaults keep the report's recipe.
"""

from __future__ import annotations

import keras

from deepfake.settings import TrainSettings

# One-cycle starts (and PyTorch's OneCycleLR starts) at the peak rate / 25.
ONECYCLE_DIV = 25.0


def learning_rate(settings: TrainSettings, steps_per_epoch: int):
    """The rate (a float for plateau) or LearningRateSchedule of the settings.

    plateau: constant, lowered by ReduceLROnPlateau; cosine: CosineDecay to 0
    over the run; warmup_cosine: linear warm-up from 0 to the rate over
    ``warmup_epochs``, then half-cosine to 0 at the end of the run; onecycle:
    the same from rate / 25 (PyTorch's OneCycleLR with cosine annealing).

    keras' own CosineDecay (with ``warmup_target``) does all of them, so a saved
    model.keras loads anywhere, without this package registering a class.
    """
    lr = settings.learning_rate
    total = max(1, settings.epochs * int(steps_per_epoch))
    if settings.schedule == "plateau":
        return lr
    warmup = 0
    if settings.schedule in ("onecycle", "warmup_cosine"):
        warmup = min(round(settings.warmup_epochs * steps_per_epoch), total - 1)
    if warmup <= 0:
        return keras.optimizers.schedules.CosineDecay(lr, decay_steps=total)
    start = lr / ONECYCLE_DIV if settings.schedule == "onecycle" else 0.0
    return keras.optimizers.schedules.CosineDecay(
        start, decay_steps=total - warmup, warmup_target=lr, warmup_steps=warmup
    )


def compile_model(model: keras.Model, settings: TrainSettings, steps_per_epoch: int) -> keras.Model:
    """AdamW (with an EMA of the weights when ``ema`` > 0) + categorical
    cross-entropy on one-hot (soft) labels with ``label_smoothing`` + accuracy.

    The labels are one-hot so that MixUp/CutMix targets work; the metric keeps
    the name ``accuracy`` (history columns accuracy, val_accuracy).
    """
    # jit_compile: XLA on TensorFlow, torch.compile on PyTorch. JAX has no
    # compiled path but jax.jit (without it keras runs op by op, many times
    # slower), so it is always on there.
    jit_compile = settings.jit_compile or keras.backend.backend() == "jax"
    optimizer = keras.optimizers.AdamW(
        learning_rate=learning_rate(settings, steps_per_epoch),
        weight_decay=settings.weight_decay,
        use_ema=settings.ema > 0,
        ema_momentum=settings.ema if settings.ema > 0 else 0.99,
    )
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=settings.label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile,
    )
    return model
