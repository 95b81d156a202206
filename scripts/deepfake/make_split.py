"""Build a competition-layout data folder from a labelled training folder.

The shared real sample carries only ``train/`` and ``train.csv``; this makes
a stratified, seeded train/validation split of it (and a test split) as
symbolic links, so the workflow can run on real images without copying them.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split


def stratified_layout(
    source: str | os.PathLike,
    dest: str | os.PathLike,
    val_frac: float = 0.2,
    per_class: int | None = None,
    seed: int = 0,
) -> dict[str, int]:
    """Write ``dest`` in the competition's layout from ``source/train`` + ``train.csv``.

    ``per_class`` first draws that many images of each class (a stratified
    subset). The test split lists the validation images without labels, so a
    submission can be scored against ``validation.csv``. Returns split sizes.
    """
    source, dest = Path(source).resolve(), Path(dest)
    frame = pd.read_csv(source / "train.csv", dtype={"image_id": str, "label": int})
    if per_class is not None:
        frame = frame.groupby("label", group_keys=False).sample(n=per_class, random_state=seed)
    train, val = train_test_split(
        frame, test_size=val_frac, stratify=frame["label"], random_state=seed
    )
    splits = {"train": train, "validation": val, "test": val[["image_id"]]}
    for name, rows in splits.items():
        folder = dest / name
        folder.mkdir(parents=True, exist_ok=False)
        for image_id in rows["image_id"]:
            (folder / f"{image_id}.png").symlink_to(source / "train" / f"{image_id}.png")
        rows.sort_values("image_id").to_csv(dest / f"{name}.csv", index=False)
    return {name: len(rows) for name, rows in splits.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="folder with train/ and train.csv")
    parser.add_argument("dest", help="new folder to create")
    parser.add_argument("--val-frac", type=float, default=0.2)
    parser.add_argument("--per-class", type=int, default=None, help="subset size per class")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sizes = stratified_layout(args.source, args.dest, args.val_frac, args.per_class, args.seed)
    print(", ".join(f"{name}: {n}" for name, n in sizes.items()))


if __name__ == "__main__":
    main()
