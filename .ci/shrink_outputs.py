"""Shrink the stored outputs of every chapter and solutions notebook, without running them.

Applies ``homl_cv.cli.shrink_outputs`` (the pass ``homl-cv run --inplace`` makes):
PNGs re-encoded small, ANSI codes and backspaces stripped, widget views dropped.
Text outputs change only where they held ANSI codes or backspaces.

    PYTHONPATH=$PWD python .ci/shrink_outputs.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from homl_cv import cli

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    chapters = ROOT / "chapters"
    paths = sorted(chapters.glob("[0-9][0-9]_*.ipynb")) + sorted(
        (chapters / "solutions").glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        before = path.stat().st_size
        nb = nbformat.read(path, as_version=4)
        cli.shrink_outputs(nb)
        cli.write_notebook_atomically(nb, path)
        print(f"{path.relative_to(ROOT)}: {before:,} -> {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
