"""Carry a labelled image folder to a remote machine in size-capped chunks, losslessly.

    python tools/devdata.py pack SOURCE OUTDIR [--chunks 4]
    python tools/devdata.py unpack CHUNK.npz DEST

For a node without internet access whose transfers are limited in size (see
docs/gpu.md). ``pack`` re-encodes every PNG of ``SOURCE/train`` (listed in
``SOURCE/train.csv``) as lossless WebP (about 75% of the PNG size on the
competition's images) into ``--chunks`` .npz files of about equal size;
``unpack`` writes one chunk back as PNGs plus a per-chunk CSV into
``DEST/train`` (pixel-identical to the originals: both codecs are lossless),
and ``DEST/train.csv`` once every chunk of the set is there.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd


def _encode(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"{path}: cannot decode")
    ok, blob = cv2.imencode(".webp", image, [cv2.IMWRITE_WEBP_QUALITY, 101])  # >100: lossless
    if not ok:
        raise ValueError(f"{path}: cannot encode as WebP")
    return blob.ravel()


def pack(source: Path, out_dir: Path, chunks: int = 4, threads: int = 2) -> list[Path]:
    """Re-encode ``source``'s training images as lossless WebP into ``chunks`` .npz files
    of about equal size in ``out_dir``; their paths."""
    frame = pd.read_csv(source / "train.csv", dtype={"image_id": str, "label": int})
    paths = [source / "train" / f"{i}.png" for i in frame["image_id"]]
    with ThreadPoolExecutor(threads) as pool:
        blobs = list(pool.map(_encode, paths))
    sizes = np.cumsum([len(b) for b in blobs])
    edges = np.searchsorted(sizes, np.linspace(0, sizes[-1], chunks + 1)[1:-1])
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for k, part in enumerate(np.split(np.arange(len(frame)), edges)):
        path = out_dir / f"chunk{k}.npz"
        blob_array = np.empty(len(part), dtype=object)
        blob_array[:] = [blobs[j] for j in part]
        np.savez(path, ids=frame["image_id"].to_numpy(str)[part],
                 labels=frame["label"].to_numpy()[part], blobs=blob_array,
                 n_chunks=chunks)  # fmt: skip
        written.append(path)
    return written


def unpack(chunk: Path, dest: Path) -> int:
    """Write one chunk's images back as PNGs under ``dest/train`` (and ``dest/train.csv``
    once every chunk is there); the number of images written."""
    with np.load(chunk, allow_pickle=True) as data:  # our own file: object array of bytes
        ids, labels, blobs = data["ids"], data["labels"], data["blobs"]
        n_chunks = int(data["n_chunks"]) if "n_chunks" in data else 4
    (dest / "train").mkdir(parents=True, exist_ok=True)
    for image_id, blob in zip(ids, blobs, strict=True):
        image = cv2.imdecode(np.asarray(blob, np.uint8), cv2.IMREAD_UNCHANGED)
        if not cv2.imwrite(str(dest / "train" / f"{image_id}.png"), image):
            raise OSError(f"cannot write {image_id}.png under {dest}")
    part = pd.DataFrame({"image_id": ids, "label": labels})
    part.to_csv(dest / f".{chunk.stem}.csv", index=False)
    parts = sorted(dest.glob(".chunk*.csv"))
    if len(parts) == n_chunks:
        frame = pd.concat([pd.read_csv(p, dtype={"image_id": str}) for p in parts])
        frame.sort_values("image_id").to_csv(dest / "train.csv", index=False)
    return len(ids)


def main() -> None:
    """Command line: see the module's docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack")
    p.add_argument("source", type=Path)
    p.add_argument("out_dir", type=Path)
    p.add_argument("--chunks", type=int, default=4)
    u = sub.add_parser("unpack")
    u.add_argument("chunk", type=Path)
    u.add_argument("dest", type=Path)
    args = parser.parse_args()
    if args.command == "pack":
        for path in pack(args.source, args.out_dir, args.chunks):
            print(path, path.stat().st_size)
    else:
        print(unpack(args.chunk, args.dest), "images")


if __name__ == "__main__":
    main()
