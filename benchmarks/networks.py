"""Parameters, multiply-adds and training and inference images/s of the CNN networks.

    python benchmarks/networks.py                                  # every candidate, float32
    python benchmarks/networks.py --only paper fast --precision f32 bf16 f32-jit
    python benchmarks/networks.py --only fast --batch-size 128 --threads 2 --pipeline
    python benchmarks/networks.py --only paper --crop 48 --precision f32-jit  # random crops

For each candidate of :data:`CANDIDATES` (the networks of the shipped configs, named
after them) in each ``--precision`` (f32: float32; bf16: mixed bfloat16; ``-jit``:
compiled with XLA, for which TensorFlow's op determinism is off, as in training), on
random data (speed only):

- ``params`` and ``MMAC/img``: the parameter count and
  :func:`deepfake.networks.multiply_adds` (the conv and dense layers' multiply-adds per
  image, at the training size);
- ``train/s``: training images/s through ``train_cnn``'s data path (``ArrayBatches``
  of uint8 arrays into ``model.fit``);
- ``infer/s``: ``model.predict`` images/s on whole images;
- with ``--pipeline``, ``prebuilt/s``: ``model.fit`` on one pre-built batch handed
  over again and again (fit's own loop, no gathering or shuffling), and ``pipeline``
  = train/s over prebuilt/s: the share of the step the data path leaves.

Rates come from the batches' end times (the first batch's end to the last's), so fit's
and predict's start-up is left out. A warm-up traces each model and sizes its timed
epoch to about ``--seconds``; ``--rounds`` rounds interleave the candidates.
"""

from __future__ import annotations

import time

from harness import Stats, header, parser, rounds, rounds_note, spread, table

CANDIDATES = {
    # config.yaml's demo CNN
    "demo": {"network": "fast", "patch": 4, "filters": [16, 32, 64], "dense_units": 128},
    # the demo CNN until 2026-11: the reference report's network shape, 85k parameters
    "demo_paper": {"network": "paper", "filters": [8, 16, 32, 64, 64], "dense_units": 128},
    # config.paper.yaml's: the reference report's network
    "paper": {"network": "paper", "filters": [32, 64, 128, 256, 256], "dense_units": 512},
    # config.fast.yaml's fast, and its candidate fast_p2
    "fast": {"network": "fast", "patch": 4, "filters": [32, 64, 128], "blocks": [1, 1, 1],
             "dense_units": 256},
    "fast_p2": {"network": "fast", "patch": 2, "filters": [16, 32, 64, 128],
                "blocks": [0, 1, 1, 1], "dense_units": 256},
    # config.best.yaml's: residual stages from full resolution
    "resnet": {"network": "resnet", "filters": [32, 64, 128, 256], "blocks": [1, 1, 1, 1],
               "dense_units": 256},
}  # fmt: skip
PRECISIONS = {
    "f32": {"mixed_precision": False, "jit_compile": False},
    "bf16": {"mixed_precision": True, "jit_compile": False},
    "f32-jit": {"mixed_precision": False, "jit_compile": True},
    "bf16-jit": {"mixed_precision": True, "jit_compile": True},
}


def settings_of(name: str, precision: str, batch_size: int, crop: int):
    """The ``TrainSettings`` of a candidate in a precision (every other setting the
    default)."""
    from deepfake.settings import TrainSettings

    params = CANDIDATES[name] | PRECISIONS[precision]
    return TrainSettings.from_params(params | {"batch_size": batch_size, "crop": crop, "seed": 0})


def main() -> None:
    """Command line: see the module's docstring."""
    p = parser(__doc__)
    p.add_argument("--only", nargs="+", choices=list(CANDIDATES), default=list(CANDIDATES))
    p.add_argument("--precision", nargs="+", choices=list(PRECISIONS), default=["f32"])
    p.add_argument("--threads", type=int, default=None, help="default: the framework's")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seconds", type=float, default=8.0, help="length of a timed epoch (8)")
    p.add_argument("--max-steps", type=int, default=200, help="most steps of a timed epoch")
    p.add_argument("--crop", type=int, default=0, help="train on random crops (0: whole images)")
    p.add_argument("--pipeline", action="store_true", help="also time a pre-built batch")
    args = p.parse_args()

    from deepfake.backend import configure

    backend = configure(
        threads=args.threads,
        deterministic=True,
        jit_compile=any(PRECISIONS[name]["jit_compile"] for name in args.precision),
    )

    import keras
    import numpy as np

    from deepfake.feeder import ArrayBatches, inputs
    from deepfake.networks import build_model, multiply_adds
    from deepfake.optim import compile_model

    bs, crop = args.batch_size, args.crop
    header(("numpy", "keras", "jax", "tensorflow", "torch"),
           extra=f"backend {backend}, {args.threads or 'default'} threads")  # fmt: skip
    rng = np.random.default_rng(0)
    n = bs * args.max_steps
    data = {
        "image": rng.integers(0, 256, (n, 100, 100, 3), dtype=np.uint8),
        "hist": rng.random((n, 48), dtype=np.float32),
        "label": rng.integers(0, 5, n),
    }

    class BatchTimes(keras.callbacks.Callback):
        """The end time of every batch."""

        def __init__(self):
            super().__init__()
            self.times = []

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter())

        on_predict_batch_end = on_train_batch_end

        def rate(self) -> float:
            """Images/s from the first batch's end to the last's."""
            return (len(self.times) - 1) * bs / (self.times[-1] - self.times[0])

    class SameBatch(keras.utils.PyDataset):
        """One pre-built batch, ``steps`` times."""

        def __init__(self, batch, steps: int):
            super().__init__()
            self.batch, self.steps = batch, steps

        def __len__(self):
            return self.steps

        def __getitem__(self, index):
            return self.batch

    def train(model, steps: int) -> float:
        sub = {k: v[: steps * bs] for k, v in data.items()}
        timer = BatchTimes()
        batches = ArrayBatches(sub, bs, seed=0, crop=crop)
        model.fit(batches, epochs=1, verbose=0, shuffle=False, callbacks=[timer])
        return timer.rate()

    def prebuilt(model, steps: int) -> float:
        timer = BatchTimes()
        batch = ArrayBatches(data, bs, seed=0, crop=crop).batch(0, 0)
        model.fit(SameBatch(batch, steps), epochs=1, verbose=0, shuffle=False, callbacks=[timer])
        return timer.rate()

    def infer(model, steps: int) -> float:
        x = {k: v[: steps * bs] for k, v in inputs(data).items()}
        timer = BatchTimes()
        model.predict(x, batch_size=bs, verbose=0, callbacks=[timer])
        return timer.rate()

    models, measures = {}, {}
    for name in args.only:
        for precision in args.precision:
            keras.utils.set_random_seed(0)
            settings = settings_of(name, precision, bs, crop)
            model = build_model(settings, image_size=None if crop else 100)
            compile_model(model, settings, steps_per_epoch=10)
            if settings.jit_compile and not model.jit_compile:
                print(f"({backend}: keras turned jit_compile off for {name})")
            train(model, 3)  # trace, then size the timed epoch to about --seconds
            infer(model, 3)
            steps = int(min(args.max_steps, max(4, args.seconds * train(model, 3) / bs)))
            models[name, precision] = (model, settings)
            measures[name, precision, "train"] = lambda m=model, s=steps: train(m, s)
            measures[name, precision, "infer"] = lambda m=model, s=steps: infer(m, s)
            if args.pipeline:
                prebuilt(model, 3)
                measures[name, precision, "prebuilt"] = lambda m=model, s=steps: prebuilt(m, s)
    rates = rounds(measures, args.rounds)
    size = crop or 100
    print(f"training on {size}x{size}, inference on 100x100, batch {bs}, "
          f"{rounds_note(args.rounds)}")  # fmt: skip
    columns = ["model", "precision", "params", "MMAC/img", "train/s", "infer/s"]
    if args.pipeline:
        columns += ["prebuilt/s", "pipeline"]
    rows = []
    for (name, precision), (model, settings) in models.items():
        fixed = build_model(settings.replace(mixed_precision=False), image_size=size)
        stats = {kind: Stats.of(rates[name, precision, kind]) for kind in ("train", "infer")}
        row = [name, precision, f"{model.count_params():,}", f"{multiply_adds(fixed) / 1e6:.1f}",
               spread(stats["train"]), spread(stats["infer"])]  # fmt: skip
        if args.pipeline:
            same = Stats.of(rates[name, precision, "prebuilt"])
            row += [spread(same), f"{stats['train'].median / same.median:.0%}"]
        rows.append(row)
    print(table(columns, rows))


if __name__ == "__main__":
    main()
