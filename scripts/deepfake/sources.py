"""Which modules of the package a script uses: declared as its rule's inputs, so that
editing a module reruns exactly the rules whose code uses it (Snakemake tracks the
``script:`` file only). Standard library only: Snakemake imports it at parse time."""

from __future__ import annotations

import os
import re
from pathlib import Path

_IMPORT = re.compile(r"^\s*(?:from|import)\s+deepfake(?:\.(\w+))?\b", re.MULTILINE)
# `from deepfake import layout, SPLITS`: the modules among the names
_FROM_PACKAGE = re.compile(
    r"^\s*from\s+deepfake\s+import\s+(?:\(([\w\s,]+)\)|([\w ,]+))", re.MULTILINE
)


def package_modules(script: str | os.PathLike) -> list[str]:
    """The ``deepfake/*.py`` files that ``script`` imports, directly or through other
    modules of the package (lazy imports inside functions included), sorted.

    Declared as a rule's inputs, so that editing a module reruns exactly the rules
    whose code uses it (Snakemake tracks the ``script:`` file only).
    """
    script = Path(script)
    package = script.parent / "deepfake" if script.parent.name != "deepfake" else script.parent
    seen = {package / "__init__.py"}
    todo = [script]
    while todo:
        text = todo.pop().read_text()
        names = _IMPORT.findall(text)
        for groups in _FROM_PACKAGE.findall(text):
            names += [n.strip() for n in "".join(groups).split(",")]
        for name in names:
            path = package / f"{name or '__init__'}.py"
            if path not in seen and path.exists():
                seen.add(path)
                todo.append(path)
    return sorted(str(p) for p in seen)
