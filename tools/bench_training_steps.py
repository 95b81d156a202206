"""Per-step wall and kernel (system) time of a short training run (a benchmark, not a test).

    python tools/bench_training_steps.py RESULTS CONFIG [CONFIG ...] --variant fast --epochs 3
    python tools/bench_training_steps.py RESULTS config.fast.yaml --variant fast \\
        --feeder-threads 1 --malloc default        # as before the two fixes below

Trains one variant of a config (overlays merged over config.yaml as --configfile does)
on a workflow run's arrays (RESULTS: its ``results/`` folder) with the workflow's own
``train_cnn``, and prints, after the first epoch (compilation), the training images/s,
the kernel time per step and the slowest step. Two settings of the training process can
be put back to measure what they cost:

- ``--feeder-threads 1``: tf.data prefetches the batches in a thread of its own, which
  keras drops at every epoch start while that thread waits for the GIL (the first step of
  some epochs then takes 35-45 s);
- ``--malloc default``: glibc maps every block over 32 MB fresh and returns it when freed,
  so every step faults its activations' pages in again (kernel time).

The training itself (its numbers) is the same in every setting.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", type=Path)
    p.add_argument("configs", type=Path, nargs="+")
    p.add_argument("--variant", required=True)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--feeder-threads", type=int, default=None)
    p.add_argument("--malloc", choices=["kept", "default"], default="kept")
    args = p.parse_args()

    from deepfake import backend

    if args.malloc == "default":
        backend.keep_freed_memory = lambda: False  # noqa: E731 (what configure calls)
    from bench_time_to_accuracy import load_settings, load_split

    settings = load_settings(args.configs, args.variant).replace(epochs=args.epochs)
    backend.configure(threads=args.threads, deterministic=True, jit_compile=settings.jit_compile)
    import keras
    import numpy as np

    import deepfake.feeder
    from deepfake.train import train_cnn

    if args.feeder_threads:
        deepfake.feeder.FEEDER_THREADS = args.feeder_threads
    train = load_split(args.results, "train_aug", settings)
    val = load_split(args.results, "validation", settings)
    steps = []

    class Steps(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.t, self.sys = epoch, time.perf_counter(), os.times().system

        def on_train_batch_end(self, batch, logs=None):
            now, system = time.perf_counter(), os.times().system
            steps.append((self.epoch, now - self.t, system - self.sys))
            self.t, self.sys = now, system

    with tempfile.TemporaryDirectory() as work:
        result = train_cnn(train, val, settings, None, work, callbacks=[Steps()])
    rows = np.array([s for s in steps if s[0] > 0])  # epoch 1 compiles
    print(
        f"{args.variant}: feeder threads {deepfake.feeder.FEEDER_THREADS}, malloc {args.malloc}: "
        f"{settings.batch_size / rows[:, 1].mean():.0f} images/s, kernel "
        f"{rows[:, 2].mean() * 1000:.0f} ms per step of {rows[:, 1].mean() * 1000:.0f} ms, "
        f"slowest step {rows[:, 1].max():.1f} s; validation {result.summary['val_accuracy']:.4f}"
    )


if __name__ == "__main__":
    main()
