"""Command line: python tools/make_split.py SOURCE DEST [--val-frac 0.2] [--per-class N]."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))  # the package

from deepfake.split import main  # noqa: E402

if __name__ == "__main__":
    main()
