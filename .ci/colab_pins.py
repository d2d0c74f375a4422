"""Write .ci/colab-constraints.txt, Colab's runtime as pip constraints, from Google's list.

When Colab moves (say to TensorFlow 2.21), copy the new ``pip-freeze.txt`` of
googlecolab/backend-info to ../shared/colab/ (or pass its path), then:

    python .ci/colab_pins.py [FREEZE] [--date YYYY-MM-DD --commit SHA]
    bash .ci/colab_stack.sh              # the tests on the new stack

Lines pinned to a git or file URL (Colab's own builds) are left out. Two
kinds of edits are applied and written into the file with their reason:

* OVERRIDES: a pin replaced by one that works on Colab's own runtime
  (tensorflow-metadata 1.21.0's protobuf-6 gencode cannot load under Colab's
  protobuf 5.29.6; 1.17.3's protobuf-4.25 gencode can, tensorflow/metadata#68).
  The Colab install cell installs the same versions (``EXTRA_PINS`` in
  set_colab_cell.py reads them from here).
* MARKERS: pins with no distribution for an older Python that the project
  supports, limited to the Pythons they exist for.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

__all__ = ["MARKERS", "OVERRIDES", "ROOT", "constraints_text", "overrides_in", "main"]

ROOT = Path(__file__).resolve().parents[1]
FREEZE = ROOT.parent / "shared" / "colab" / "pip-freeze.txt"
OUT = ROOT / ".ci" / "colab-constraints.txt"

OVERRIDES = {
    "tensorflow-metadata": ("1.17.3", "Colab's 1.21.0 was generated with protobuf 6.31 and fails "
                                      "under Colab's protobuf 5.29.6 (tensorflow/metadata#68)"),
}
MARKERS = {
    "tifffile": ('python_version >= "3.12"', "2026.8.16 needs Python >= 3.12; 3.11 takes the newest "
                                             "that scikit-image allows"),
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def constraints_text(freeze: str, source: str) -> str:
    """The constraints file for the freeze text ``freeze`` (``source`` names it)."""
    lines = [f"# Google Colab's runtime as pip constraints: {source}.",
             "# Written by .ci/colab_pins.py; do not edit by hand. Edits to Colab's list:"]
    lines += [f"#   {name}=={version}: {why}" for name, (version, why) in OVERRIDES.items()]
    lines += [f"#   {name}; {marker}: {why}" for name, (marker, why) in MARKERS.items()]
    for line in freeze.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "@" in line or "==" not in line:
            continue
        name, version = line.split("==", 1)
        key = _norm(name)
        if key in OVERRIDES:
            version = OVERRIDES[key][0]
        entry = f"{name}=={version}"
        if key in MARKERS:
            entry += f"; {MARKERS[key][0]}"
        lines.append(entry)
    return "\n".join(lines) + "\n"


def overrides_in(path: Path = OUT) -> dict:
    """``{name: version}`` of the OVERRIDES as written in the constraints file at ``path``."""
    pins = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split(";")[0].split("==")
            pins[_norm(name)] = version.strip()
    return {name: pins[name] for name in OVERRIDES}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("freeze", nargs="?", default=str(FREEZE), help="Colab's pip-freeze.txt")
    parser.add_argument("--source", default="googlecolab/backend-info a724079 (2026-08-19), "
                        "pip-freeze.txt of the default runtime: Python 3.13.15",
                        help="where the list comes from, written into the file")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    args = parser.parse_args(argv)
    text = constraints_text(Path(args.freeze).read_text(), args.source)
    if args.check:
        same = OUT.exists() and OUT.read_text() == text
        print(f"{OUT.relative_to(ROOT)} is {'up to date' if same else 'OUT OF DATE: run python .ci/colab_pins.py'}")
        return 0 if same else 1
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}: {text.count(chr(10)) - 2 - len(OVERRIDES) - len(MARKERS)} pins")
    return 0


if __name__ == "__main__":
    sys.exit(main())
