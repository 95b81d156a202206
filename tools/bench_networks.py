"""Benchmark the network families: parameters, multiply-adds and images/s (a tool, not a test).

For each named candidate: parameter count, :func:`deepfake.networks.multiply_adds`
(multiply-adds of the conv and dense layers), training images/s (``model.fit``
through train_cnn's data path, ArrayBatches of uint8 arrays, batch 64) and
inference images/s (``model.predict``, batch 64), both from the batches' end times (the first
batch's end to the last's, so without fit's start-up). A warm-up epoch traces the
model and sizes the timed epoch to about ``--seconds``; ``--rounds`` rounds
interleave the candidates and the median is printed. Random data: speed only.

    python tools/bench_networks.py --threads 2                 # every candidate, f32
    python tools/bench_networks.py --only paper fast_p4_32 --precision f32 bf16
    python tools/bench_networks.py --only fast_p4_32 --precision f32 f32-jit --batch-size 128
    python tools/bench_networks.py --only paper --crop 48 --precision f32-jit   # random crops

f32-jit compiles with XLA; the process then runs without TensorFlow's op
determinism (which turns XLA off), as training with ``jit_compile`` does.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

PAPER = {"filters": [32, 64, 128, 256, 256], "dense_units": 512}
CANDIDATES = {
    "demo": {"filters": [8, 16, 32, 64, 64], "dense_units": 128},  # the demo CNN until 2026-11
    "demo_fast": {"network": "fast", "patch": 4, "filters": [16, 32, 64], "blocks": [1, 1, 1],
                  "dense_units": 128},  # config.yaml's demo CNN now
    "paper": PAPER,
    "resnet": {"network": "resnet", "filters": [32, 64, 128, 256], "blocks": [1, 1, 1, 1]},
    "resnet_wide": {"network": "resnet", "filters": [64, 128, 256, 512], "blocks": [1, 1, 1, 1]},
    "fast_p2_16": {"network": "fast", "patch": 2, "filters": [16, 32, 64, 128],
                   "blocks": [0, 1, 1, 1]},
    "fast_p4_32": {"network": "fast", "patch": 4, "filters": [32, 64, 128], "blocks": [1, 1, 1]},
    "fast_p4_32_192": {"network": "fast", "patch": 4, "filters": [32, 64, 192],
                       "blocks": [1, 1, 1]},
    "fast_p4_32_96_192": {"network": "fast", "patch": 4, "filters": [32, 96, 192],
                          "blocks": [1, 1, 1]},
    "fast_p4_48": {"network": "fast", "patch": 4, "filters": [48, 96, 192], "blocks": [1, 1, 1]},
    "fast_p2_24": {"network": "fast", "patch": 2, "filters": [24, 48, 96, 192],
                   "blocks": [0, 1, 1, 0]},
    "paper_slim": {"filters": [32, 64, 128, 128, 128], "dense_units": 512},
    "paper_narrow": {"filters": [24, 48, 96, 192, 192], "dense_units": 512},
}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", nargs="+", choices=list(CANDIDATES), default=list(CANDIDATES))
    p.add_argument(
        "--precision",
        nargs="+",
        choices=["f32", "bf16", "f32-jit"],
        default=["f32"],
        help="f32-jit: float32 compiled with XLA (jit_compile)",
    )
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seconds", type=float, default=8.0, help="target length of a timed epoch")
    p.add_argument("--max-steps", type=int, default=200)
    p.add_argument(
        "--crop", type=int, default=0, help="train on random crop x crop windows (0: whole images)"
    )
    args = p.parse_args()

    from deepfake.backend import configure

    backend = configure(
        threads=args.threads,
        deterministic=True,
        jit_compile="f32-jit" in args.precision,  # TensorFlow's op determinism off, as in training
    )

    import keras
    import numpy as np

    from deepfake.feeder import ArrayBatches, inputs
    from deepfake.networks import build_model, multiply_adds
    from deepfake.optim import compile_model
    from deepfake.settings import TrainSettings

    bs = args.batch_size
    rng = np.random.default_rng(0)
    n = bs * args.max_steps
    data = {
        "image": rng.integers(0, 256, (n, 100, 100, 3), dtype=np.uint8),
        "hist": rng.random((n, 48), dtype=np.float32),
        "label": rng.integers(0, 5, n),
    }
    print(f"backend {backend}, keras {keras.__version__}, batch {bs}, threads {args.threads}")
    runs = {}
    for name in args.only:
        for precision in args.precision:
            params = {
                "bins": 16, "hist_units": 64, "dense_units": 256, "dropout": 0.5,
                "head": "gap", "learning_rate": 1e-3, "weight_decay": 1e-4, "epochs": 10,
                "mixed_precision": precision == "bf16", "jit_compile": precision == "f32-jit",
                "seed": 0,
            } | CANDIDATES[name]  # fmt: skip
            keras.utils.set_random_seed(0)
            settings = TrainSettings.from_params(params | {"crop": args.crop})
            model = build_model(settings, image_size=None if args.crop else 100)
            compile_model(model, settings, steps_per_epoch=10)
            runs[name, precision] = {"model": model, "settings": settings, "train": [], "infer": []}

    class BatchTimes(keras.callbacks.Callback):
        """End time of every batch: the rate excludes fit's and predict's start-up
        (about a second per call, which a 176-step epoch amortises but a short
        timed epoch would not)."""

        def __init__(self):
            super().__init__()
            self.times = []

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter())

        on_predict_batch_end = on_train_batch_end

        def rate(self) -> float:
            return (len(self.times) - 1) * bs / (self.times[-1] - self.times[0])

    def train(model, steps: int) -> float:
        sub = {k: v[: steps * bs] for k, v in data.items()}
        timer = BatchTimes()
        batches = ArrayBatches(sub, bs, seed=0, crop=args.crop)
        model.fit(batches, epochs=1, verbose=0, shuffle=False, callbacks=[timer])
        return timer.rate()

    def infer(model, steps: int) -> float:
        x = {k: v[: steps * bs] for k, v in inputs(data).items()}
        timer = BatchTimes()
        model.predict(x, batch_size=bs, verbose=0, callbacks=[timer])
        return timer.rate()

    steps = {}
    for key, run in runs.items():  # trace, then size each timed epoch to about --seconds
        train(run["model"], 3)
        infer(run["model"], 3)
        rate = train(run["model"], 3)
        steps[key] = int(min(args.max_steps, max(4, args.seconds * rate / bs)))
    # Rounds interleave the candidates, so a load change on a shared machine hits
    # each of them alike; the median of the rounds is reported.
    for _ in range(args.rounds):
        for key, run in runs.items():
            run["train"].append(train(run["model"], steps[key]))
            run["infer"].append(infer(run["model"], steps[key]))
    size = args.crop or 100
    print(f"training on {size}x{size}; inference on 100x100")
    print(f"{'model':12} {'prec':7} {'params':>10} {'MMAC/img':>9} {'train/s':>8} {'infer/s':>8}")
    for (name, precision), run in runs.items():
        model = run["model"]
        fixed = build_model(run["settings"].replace(mixed_precision=False), image_size=size)
        print(
            f"{name:12} {precision:7} {model.count_params():>10,} "
            f"{multiply_adds(fixed) / 1e6:>9.1f} {statistics.median(run['train']):>8.0f} "
            f"{statistics.median(run['infer']):>8.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
