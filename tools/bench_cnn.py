"""Benchmark the CNN's training and inference speed (a tool, not a test).

For each precision / XLA mode one model is built and traced, then ``--rounds``
rounds measure, one after the other (so that a load change on a shared machine
hits every path alike), in images per second:
  pipeline  one training epoch through train_cnn's data path (ArrayBatches of
            uint8 arrays into model.fit);
  numpy     one epoch of model.fit(x=dict_of_numpy, y, shuffle=True);
  same      one epoch of model.fit on a PyDataset that returns one pre-built
            batch again and again (fit's own loop, no gathering or shuffling);
  raw       train_on_batch on one pre-built batch of tensors, as many steps
            (no data path at all, but one python call per step: slower than
            fit's loop on a GPU with JAX);
  infer     model.predict on the uint8 arrays (batch 256).
The median of the rounds is printed, with ratio = pipeline / max(same, raw)
and the parameter count.

    python tools/bench_cnn.py                       # the demo default model
    python tools/bench_cnn.py --filters 32 64 128 256 256 --dense-units 512  # paper
    python tools/bench_cnn.py --modes f32 bf16 --nondeterministic --modes f32-jit
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))  # the package

MODES = {
    "f32": {"mixed_precision": False, "jit_compile": False},
    "bf16": {"mixed_precision": True, "jit_compile": False},
    "f32-jit": {"mixed_precision": False, "jit_compile": True},
    "bf16-jit": {"mixed_precision": True, "jit_compile": True},
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--filters", type=int, nargs=5, default=[16, 32, 64, 96, 96])
    p.add_argument("--hist-units", type=int, default=64)
    p.add_argument("--dense-units", type=int, default=256)
    p.add_argument("--head", choices=["gap", "flatten"], default="gap")
    p.add_argument("--bins", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--n", type=int, default=640, help="training images per timed epoch")
    p.add_argument("--rounds", type=int, default=3, help="timed rounds (after a warm-up)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--modes", nargs="+", choices=list(MODES), default=["f32", "bf16"])
    p.add_argument(
        "--nondeterministic",
        action="store_true",
        help="no op determinism (keras ignores jit_compile on TensorFlow when it is on)",
    )
    p.add_argument("--skip-numpy", action="store_true", help="skip the model.fit(numpy) path")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    from deepfake.backend import configure

    backend = configure(threads=args.threads, deterministic=not args.nondeterministic)

    import keras
    import numpy as np

    from deepfake.feeder import ArrayBatches, inputs
    from deepfake.networks import build_model
    from deepfake.optim import compile_model
    from deepfake.settings import TrainSettings

    rng = np.random.default_rng(0)
    n, bs = args.n, args.batch_size
    steps = -(-n // bs)
    n_hist = 3 * args.bins
    data = {
        "image": rng.integers(0, 256, (n, 100, 100, 3), dtype=np.uint8),
        "hist": rng.random((n, n_hist), dtype=np.float32),
        "label": rng.integers(0, 5, n),
    }

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds = time.perf_counter() - self._t

    class SameBatch(keras.utils.PyDataset):
        def __init__(self, batch):
            super().__init__()
            self.batch = batch

        def __len__(self):
            return steps

        def __getitem__(self, index):
            return self.batch

    def build(mode: dict):
        params = {
            "bins": args.bins,
            "filters": args.filters,
            "hist_units": args.hist_units,
            "dense_units": args.dense_units,
            "dropout": 0.5,
            "head": args.head,
            "schedule": "plateau",
            "learning_rate": 1e-3,
            "weight_decay": 1e-4,
            "epochs": 10,
            **mode,
        }
        keras.utils.set_random_seed(0)
        settings = TrainSettings.from_params(params)
        model = build_model(settings)
        compile_model(model, settings, steps_per_epoch=steps)
        if mode["jit_compile"] and not model.jit_compile:
            print(f"  ({backend}: keras turned jit_compile off)")
        return model

    def fit_epoch(model, **fit_kwargs) -> float:
        timer = EpochTimer()
        model.fit(epochs=1, callbacks=[timer], verbose=0, **fit_kwargs)
        return n / timer.seconds

    print(
        f"backend {backend}, keras {keras.__version__}, filters {args.filters}, "
        f"dense {args.dense_units}, head {args.head}, batch {bs}, {n} images/epoch, "
        f"median of {args.rounds} rounds"
    )
    columns = ("pipeline", "numpy", "same", "raw")
    print(f"{'mode':9} {'params':>10} " + " ".join(f"{c:>9}" for c in columns), end="")
    print(f" {'ratio':>6} {'infer':>9}", flush=True)

    def measure(name: str) -> None:
        model = build(MODES[name])
        batches = ArrayBatches(data, bs, seed=0)
        x = {k: keras.ops.convert_to_tensor(v[:bs]) for k, v in inputs(data).items()}
        y = keras.ops.convert_to_tensor(data["label"][:bs])
        same_batch = SameBatch(({k: v[:bs] for k, v in inputs(data).items()}, data["label"][:bs]))

        def pipeline():
            return fit_epoch(model, x=batches, shuffle=False)

        def numpy_path():
            return fit_epoch(model, x=inputs(data), y=data["label"], batch_size=bs, shuffle=True)

        def same():
            return fit_epoch(model, x=same_batch, shuffle=False)

        def raw():
            t = time.perf_counter()
            for _ in range(steps):
                model.train_on_batch(x, y)
            return steps * bs / (time.perf_counter() - t)

        def infer():
            t = time.perf_counter()
            model.predict(inputs(data), batch_size=256, verbose=0)
            return n / (time.perf_counter() - t)

        paths = {
            "pipeline": pipeline,
            "numpy": numpy_path,
            "same": same,
            "raw": raw,
            "infer": infer,
        }
        if args.skip_numpy:
            del paths["numpy"]
        rates: dict[str, list[float]] = {k: [] for k in paths}
        for round_ in range(1 + args.rounds):  # round 0 traces and warms up
            for key, path in paths.items():
                rate = path()
                if round_:
                    rates[key].append(rate)
        med = {k: statistics.median(v) for k, v in rates.items()}
        print(
            f"{name:9} {model.count_params():>10,} {med['pipeline']:>9.1f} "
            f"{med.get('numpy', float('nan')):>9.1f} {med['same']:>9.1f} {med['raw']:>9.1f} "
            f"{med['pipeline'] / max(med['same'], med['raw']):>6.2f} {med['infer']:>9.1f}",
            flush=True,
        )

    for name in args.modes:
        measure(name)


if __name__ == "__main__":
    main()
