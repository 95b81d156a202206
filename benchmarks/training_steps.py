"""Per-step wall and kernel (system) time of a short training run of one CNN variant.

    python benchmarks/training_steps.py RUN_DIR --variant fast --configfile config.fast.yaml \\
        [--epochs 3] [--config KEY=VALUE ...] [--threads N] [--rounds 1]

RUN_DIR is the folder of a workflow run with the same config (its ``results/`` holds
the variant's arrays and histograms: e.g. after ``snakemake --cores all --configfile
config.fast.yaml --config data_dir=... --omit-from train_cnn``). The benchmark asks
Snakemake for rule ``train_cnn``'s job of ``--variant`` (``deepfake.smk.mock_snakemake``:
the same inputs, params and threads as the workflow's job, ``--epochs`` given as the
variant's ``epochs``) and trains it with the workflow's ``deepfake.train.train_cnn``,
in a temporary folder (the run's files are not touched). A callback records every
step's wall time and the process's system (kernel) time. After the first epoch
(compilation), it prints the training images/s, the wall and kernel time per step and
the slowest step, and the validation accuracy; ``--rounds`` repeats the training (the
same bits each time) and gives each figure's median and range.
"""

from __future__ import annotations

import logging
import os
import time

from harness import (
    Stats,
    add_job_arguments,
    header,
    job_config,
    parser,
    rounds,
    rounds_note,
    spread,
    table,
    training_job,
)


def main() -> None:
    """Command line: see the module's docstring."""
    p = parser(__doc__, rounds=1)
    add_job_arguments(p)
    p.add_argument("--epochs", type=int, default=3, help="epochs to train (3; the first compiles)")
    args = p.parse_args()
    if args.epochs < 2:
        p.error("--epochs must be at least 2: the first compiles")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    config = job_config(args.config, args.variant, epochs=args.epochs)
    job = training_job(args.run_dir, args.variant, args.configfile, config, args.threads)

    import keras
    import numpy as np

    header(("numpy", "keras", "jax", "tensorflow", "torch"),
           extra=f"backend {job.backend}, {job.smk.threads} threads")  # fmt: skip

    class Steps(keras.callbacks.Callback):
        """(epoch, wall seconds, system seconds) of every training step."""

        def __init__(self):
            super().__init__()
            self.steps = []

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.t, self.sys = epoch, time.perf_counter(), os.times().system

        def on_train_batch_end(self, batch, logs=None):
            now, system = time.perf_counter(), os.times().system
            self.steps.append((self.epoch, now - self.t, system - self.sys))
            self.t, self.sys = now, system

    figures = {"rate": [], "wall": [], "kernel": [], "slowest": [], "accuracy": []}

    def train_once() -> float:
        steps = Steps()
        result = job.train(callbacks=[steps])
        rows = np.array([s for s in steps.steps if s[0] > 0])  # epoch 1 compiles
        figures["rate"].append(job.settings.batch_size / rows[:, 1].mean())
        figures["wall"].append(rows[:, 1].mean() * 1000)
        figures["kernel"].append(rows[:, 2].mean() * 1000)
        figures["slowest"].append(rows[:, 1].max())
        figures["accuracy"].append(result.summary["val_accuracy"])
        return 0.0

    rounds({"train": train_once}, args.rounds)
    stats = {name: Stats.of(values) for name, values in figures.items()}
    print(f"variant {args.variant}, {args.epochs} epochs, batch {job.settings.batch_size}, "
          f"{rounds_note(args.rounds)}, from epoch 2 on")  # fmt: skip
    print(
        table(
            ("measure", "value"),
            [
                ("training images/s", spread(stats["rate"])),
                ("wall ms per step", spread(stats["wall"])),
                ("kernel (system) ms per step", spread(stats["kernel"])),
                ("slowest step, s", spread(stats["slowest"], 2)),
                ("validation accuracy", spread(stats["accuracy"], 4)),
            ],
        )
    )


if __name__ == "__main__":
    main()
