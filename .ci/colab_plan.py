"""Check that the Colab install cell changes no package that Colab ships.

Run inside the reproduction of Colab's runtime (``bash .ci/colab_stack.sh``
builds it and runs this): every package there that Colab also has is at
Colab's version. The check asks pip for the plan of the cell's own install
command, without installing anything::

    python -m pip install --dry-run --report PLAN -c KEEP <this checkout> tensorflow-metadata==1.17.3

and fails when the plan would install a package of Colab's list at another
version than Colab's, or any version of a package the cell must never touch
(TensorFlow, Keras, numpy, protobuf, ipykernel), except the one change the
cell makes on purpose (tensorflow-metadata, see colab_pins.py).

    python .ci/colab_plan.py            # exit 0: the plan is clean
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["ROOT", "freeze_versions", "plan_changes", "main"]

ROOT = Path(__file__).resolve().parents[1]
FREEZE = ROOT.parent / "shared" / "colab" / "pip-freeze.txt"


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / ".ci" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def freeze_versions(text: str) -> dict:
    """``{normalized name: version}`` of a pip freeze (URL pins left out)."""
    out = {}
    for line in text.splitlines():
        if "==" in line and "@" not in line and not line.startswith("#"):
            name, version = line.strip().split("==", 1)
            out[_norm(name)] = version
    return out


def plan_changes(report: dict, colab: dict, keep=(), allowed=()) -> list:
    """What a pip ``--report`` would change of Colab's packages: ``["name a -> b", ...]``.

    Args:
        report: pip's installation report (``{"install": [{"metadata": ...}]}``).
        colab: ``{name: version}`` of Colab's runtime (:func:`freeze_versions`).
        keep: names the cell must never install, at any version.
        allowed: names the cell changes on purpose.
    """
    changes = []
    for item in report.get("install", []):
        name, version = _norm(item["metadata"]["name"]), item["metadata"]["version"]
        if name in allowed:
            continue
        if name in keep or (name in colab and colab[name] != version):
            changes.append(f"{name} {colab.get(name, '(not in Colab)')} -> {version}")
    return changes


def main(argv=None) -> int:
    cell = _tool("set_colab_cell")
    if not FREEZE.is_file():
        print(f"colab_plan.py: Colab's package list is not at {FREEZE}: the checkout must sit beside "
              "the project's shared/ folder (shared/colab/pip-freeze.txt, googlecolab/backend-info's "
              "list); clone it there or copy the list.", file=sys.stderr)
        return 2
    colab = freeze_versions(FREEZE.read_text())
    keep = [_norm(name) for name in cell.KEEP]
    extra = cell.extra_pins()
    with tempfile.TemporaryDirectory() as tmp:
        keep_file = Path(tmp) / "keep.txt"
        keep_file.write_text("".join(f"{name}=={colab[name]}\n" for name in keep))
        plan_path = Path(tmp) / "plan.json"
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report",
                   str(plan_path), "-c", str(keep_file), str(ROOT), *extra]
        subprocess.run(command, check=True)
        report = json.loads(plan_path.read_text())
    planned = [f"{i['metadata']['name']}=={i['metadata']['version']}" for i in report.get("install", [])]
    print("Colab cell plan (pip --dry-run):", ", ".join(planned) or "nothing to install")
    changes = plan_changes(report, colab, keep=keep,
                           allowed={_norm(p.split("==")[0]) for p in extra} | {"homl-cv"})
    if changes:
        print("The Colab cell would change what Colab ships:", "; ".join(changes))
        return 1
    print(f"OK: the plan changes none of Colab's {len(colab)} packages "
          f"(on purpose: {', '.join(extra)}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
