"""The repository keeps its promises: CI runs the README's test command, and
every chapter has the agreed opening cells and clean stored outputs."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "chapters" / "solutions").glob("[0-9][0-9]_*.ipynb"))


def _readme_commands():
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_readme_has_exactly_two_setup_commands():
    commands = _readme_commands()
    assert len(commands) == 2
    assert all(c.startswith("python -m pip install -r requirements.txt && ") for c in commands)
    assert commands[0].endswith("homl-cv run")


def test_ci_runs_the_readme_test_command():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _readme_commands()[1] in ci_lines


def test_requirements_are_bounded_and_install_the_package():
    lines = [l.strip() for l in (ROOT / "requirements.txt").read_text().splitlines()]
    reqs = [l for l in lines if l and not l.startswith("#")]
    assert "-e ." in reqs
    assert all(re.search(r">=[^,]+,<", r) for r in reqs if r != "-e ."), "unbounded requirement"


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_opens_with_badge_colab_cell_and_banner(path):
    cells = _cells(path)
    assert cells[0]["cell_type"] == "markdown"
    assert "colab-badge.svg" in "".join(cells[0]["source"]) and path.name in "".join(cells[0]["source"])
    assert '"google.colab" in sys.modules' in "".join(cells[1]["source"])
    assert "config.start_chapter(" in "".join(cells[2]["source"])
    assert "nbval-ignore-output" in cells[2]["metadata"].get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.stem)
def test_stored_outputs_are_clean(path):
    text = path.read_text(encoding="utf-8")
    for cell in _cells(path):
        for out in cell.get("outputs", []):
            assert not (out["output_type"] == "stream" and out["name"] == "stderr"), "stderr stored"
            assert out["output_type"] != "error", "a stored error"
            body = "".join(out.get("text", [])) + "".join(out.get("data", {}).get("text/plain", []))
            assert "Warning" not in body, f"a warning is stored: {body[:200]}"
    assert "/root/" not in text and "/home/" not in text and "/work/" not in text, "absolute path stored"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_has_a_solutions_notebook(path):
    assert (ROOT / "chapters" / "solutions" / f"{path.stem}_solutions.ipynb").exists()


def test_parallel_tests_keep_each_notebook_in_one_process():
    # nbval runs a notebook's cells in order in one kernel: with pytest-xdist, only
    # --dist loadscope keeps them together (the default would spread the cells).
    import tomllib

    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    addopts = options["addopts"].split()
    assert "--nbval" in addopts
    if "-n" in addopts:
        assert "--dist" in addopts and addopts[addopts.index("--dist") + 1] == "loadscope", addopts
        assert any(line.startswith("pytest-xdist>=")
                   for line in (ROOT / "requirements.txt").read_text().splitlines())
