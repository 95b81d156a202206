"""Snakemake entry point: pack a trained model (an ensemble with its members), the
unknown-image detector, check images and the model's card into one folder that ships."""

import json
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from deepfake import layout
from deepfake.datafolder import trained_on
from deepfake.io import load_arrays, write_atomic
from deepfake.report import software
from deepfake.ship import CHECK_IMAGES, card_text, pack, publish, write_check
from deepfake.smk import job_from_argv, run


def machine_of(folder: Path, metrics: dict) -> str:
    """Where its networks trained: the CPU flags, backend and precision they recorded."""
    cards = [metrics]
    for member in metrics.get("members", []):
        path = folder / json.loads((folder / layout.CARD).read_text())["folders"][member]
        cards.append(json.loads((path / layout.METRICS).read_text()))
    cnn = next((m for m in cards if m.get("model") == "cnn"), None)
    if cnn is None:
        return ""
    flags = ", ".join(cnn.get("cpu_flags", [])) or "a GPU"
    xla = " + XLA" if cnn.get("jit_compile") else ""
    return f" (networks: {cnn['backend']}, {cnn['precision']}{xla}, CPU flags {flags})"


def main(smk):
    from deepfake.backend import configure

    configure(threads=int(smk.threads), deterministic=True)
    dest = Path(smk.output[0])
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    source = Path(smk.params.model_dir)
    pack(source, tmp)
    shutil.copy2(smk.input.detector, tmp / layout.UNKNOWNS)
    shutil.copy2(smk.input.reliability, tmp / "reliability.png")
    ids = load_arrays(smk.input.validation)["ids"]
    pick = np.linspace(0, len(ids) - 1, CHECK_IMAGES).astype(int)
    write_check(tmp, tmp, smk.params.name, ids[pick], np.load(source / layout.VAL_PROBA)[pick])
    metrics = json.loads((source / layout.METRICS).read_text())
    row = pd.read_csv(smk.input.summary).set_index("model").loc[smk.params.model]
    unknowns = json.loads(Path(smk.input.unknowns_metrics).read_text())
    info = {
        "machine": machine_of(Path(smk.params.model_dir), metrics),
        "data": smk.params.data_note or trained_on(metrics["data"], detail=True),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "software": software(metrics["versions"]),
        "command": smk.params.command,
    }
    text = card_text(smk.params.name, row, metrics, unknowns, info)
    write_atomic(tmp / "README.md", lambda path: path.write_text(text))
    publish(tmp, dest)
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    logging.info("%s packed into %s (%.1f MB)", smk.params.model, dest, size / 1e6)


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("ship_model"))  # noqa: F821
