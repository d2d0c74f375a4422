"""Write the Colab install cell (cell 1) and badge ref (cell 0) of every notebook.

The cell is written here once: it installs homl-cv from git ref ``REF``, the
same ref the "Open in Colab" badge opens, and checks that the version it
imports is the version of pyproject.toml, so a notebook runs against the
package code it was written for. Run it after changing the version or REF:

    python .ci/set_colab_cell.py          # rewrite cells 0-1 where they differ
    python .ci/set_colab_cell.py --check  # exit 1 if a notebook is out of date

``tests/test_repo.py`` checks that every notebook's cell 1 is exactly
:func:`colab_cell_source` of the current version and that its badge opens REF;
``.ci/colab_plan.py`` checks that the cell's install changes nothing Colab ships.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import tomllib
from pathlib import Path

__all__ = ["KEEP", "REF", "REPOSITORY", "ROOT", "badge_ref", "colab_cell_source", "extra_pins",
           "notebooks", "package_version", "main"]

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = "https://github.com/homl-cv/homl-cv"
# The git ref that both the "Open in Colab" badge (cell 0) and the install (cell 1)
# point at, so that the notebook a learner reads and the package it runs are one
# version. At a release: set REF = "v<version>", push that tag, run this script.
REF = "main"
# What Colab ships and the cell must never change (pip is held to Colab's versions).
KEEP = ("tensorflow", "keras", "numpy", "protobuf", "ipykernel")
BADGE = re.compile(r"colab\.research\.google\.com/github/homl-cv/homl-cv/blob/([^/]+)/chapters/")


def package_version(root: Path = ROOT) -> str:
    """The version declared in ``pyproject.toml``, e.g. ``"0.1.0"``."""
    return tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]


def extra_pins(root: Path = ROOT) -> list:
    """Pins the cell adds to fix Colab's own runtime: ``["tensorflow-metadata==1.17.3"]``.

    Read from the constraints file (colab_pins.OVERRIDES), so the tests and the
    cell install the same versions.
    """
    spec = importlib.util.spec_from_file_location("colab_pins", root / ".ci" / "colab_pins.py")
    pins = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pins)
    return [f"{name}=={version}" for name, version in pins.overrides_in(root / ".ci" / "colab-constraints.txt").items()]


def badge_ref(markdown: str):
    """The git ref the "Open in Colab" badge in ``markdown`` opens (None: no badge)."""
    match = BADGE.search(markdown)
    return match.group(1) if match else None


def colab_cell_source(version: str, ref: str = REF, extra=None) -> str:
    """The source of cell 1 for package ``version`` installed from git ``ref``.

    Outside Colab it does nothing. In Colab it installs homl-cv from ``ref``
    with the runtime dependencies Colab lacks, holding TensorFlow, Keras,
    numpy, protobuf and ipykernel at the versions Colab has (pip fails rather
    than change them), plus the pins that fix Colab's own tfds
    (:func:`extra_pins`). Then it imports homl_cv and checks its version; any
    failure ends the cell with one message that says what to do, not a
    traceback three cells later. Last, it says when no GPU is visible and
    which mode the chapter will run in.
    """
    extra = extra_pins() if extra is None else extra
    pins = ", ".join(f'"{pin}"' for pin in extra)
    keep = ", ".join(f'"{name}"' for name in KEEP)
    return f'''# Colab only (elsewhere this cell does nothing): install homl-cv {version} from {ref}, the
# version these notebooks were written for, with what Colab lacks (keras-cv, pycocotools)
# and {", ".join(extra)} (Colab's own tfds needs it under its protobuf).
# Colab's {", ".join(KEEP)} are held at the versions it has.
import sys
if "google.colab" in sys.modules:
    import importlib.metadata, subprocess
    with open("/tmp/homl-cv-keep.txt", "w") as keep:
        keep.write("".join(f"{{name}}=={{importlib.metadata.version(name)}}\\n" for name in ({keep})))
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", "/tmp/homl-cv-keep.txt",
                          "homl-cv @ git+{REPOSITORY}@{ref}", {pins}],
                         capture_output=True, text=True)
    try:
        if pip.returncode != 0:
            raise RuntimeError("pip: " + (pip.stderr.strip().splitlines() or ["failed"])[-1])
        import homl_cv
        if homl_cv.__version__ != "{version}":
            raise RuntimeError(f"homl_cv {{homl_cv.__version__}} is loaded, this notebook needs {version}")
    except Exception as error:
        raise SystemExit(f"homl-cv is not ready ({{error}}). Fix: Runtime > Restart session, "
                         "then run this cell again.") from None
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
        badge = nb.cells[0]
        ref = badge_ref(badge.source)
        if ref is not None and ref != REF and not args.check:
            badge.source = badge.source.replace(f"/blob/{ref}/chapters/", f"/blob/{REF}/chapters/")
        if cell.cell_type == "code" and cell.source == source and ref in (None, REF):
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
