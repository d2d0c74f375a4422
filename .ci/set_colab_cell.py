"""Write the Colab install cell (cell 1) of every chapter and solutions notebook.

The cell is written here once and pins the package version of pyproject.toml,
installed from the git tag ``v<version>``: a notebook runs against the package
code it was written for. Run it after changing the version (then tag the
release ``v<version>``):

    python .ci/set_colab_cell.py          # rewrite cell 1 where it differs
    python .ci/set_colab_cell.py --check  # exit 1 if a notebook is out of date

``tests/test_repo.py`` checks that every notebook's cell 1 is exactly
:func:`colab_cell_source` of the current version.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

__all__ = ["REPOSITORY", "ROOT", "colab_cell_source", "notebooks", "package_version", "main"]

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = "https://github.com/homl-cv/homl-cv"


def package_version(root: Path = ROOT) -> str:
    """The version declared in ``pyproject.toml``, e.g. ``"0.1.0"``."""
    return tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]


def colab_cell_source(version: str) -> str:
    """The source of cell 1 for package ``version``.

    Outside Colab it does nothing. In Colab it installs homl-cv at tag
    ``v<version>`` with its runtime dependencies only (pip keeps what Colab
    already has when it fits the bounds; ipykernel, nbclient and Jupyter are
    in extras and are never touched), says when no GPU is visible, and says
    which mode the chapter will run in.
    """
    return f'''# Colab only (elsewhere this cell does nothing): install homl-cv {version}, the
# version these notebooks were written for, with what Colab lacks (keras-cv,
# pycocotools, ...). Colab's TensorFlow, Keras and Jupyter kernel stay as they are.
import sys
if "google.colab" in sys.modules:
    %pip install -q "homl-cv @ git+{REPOSITORY}@v{version}"
    import tensorflow as tf
    from homl_cv import config
    if not tf.config.list_physical_devices("GPU"):
        print("No GPU visible: pick one in Runtime > Change runtime type (e.g. T4 GPU), "
              "then run the notebook again; on a CPU the full mode takes hours.")
    print(f"This chapter will run in {{'QUICK' if config.is_quick() else 'FULL'}}, "
          f"{{'OFFLINE' if config.is_offline() else 'online'}} mode. For the quick mode "
          "(minutes), run  %env HOML_CV_QUICK=1  and then the cells below.")'''


def notebooks(root: Path = ROOT) -> list:
    """Every chapter and solutions notebook."""
    chapters = root / "chapters"
    return sorted(chapters.glob("[0-9][0-9]_*.ipynb")) + sorted(
        (chapters / "solutions").glob("[0-9][0-9]_*.ipynb"))


def main(argv=None) -> int:
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report notebooks out of date")
    args = parser.parse_args(argv)
    source = colab_cell_source(package_version())
    stale = []
    for path in notebooks():
        nb = nbformat.read(path, as_version=4)
        cell = nb.cells[1]
        if cell.cell_type == "code" and cell.source == source:
            continue
        if cell.cell_type != "code" or '"google.colab" in sys.modules' not in cell.source:
            raise SystemExit(f"{path}: cell 1 is not the Colab install cell; fix it by hand.")
        stale.append(path)
        if not args.check:
            cell.source = source
            cell.outputs = []
            cell.execution_count = None
            nbformat.write(nb, path)
    verb = "out of date" if args.check else "updated"
    print(f"{len(stale)} notebook(s) {verb}" + "".join(f"\n  {p.relative_to(ROOT)}" for p in stale))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
