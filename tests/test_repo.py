"""The repository keeps its promises: CI runs the README's test command, and
every chapter has the agreed opening cells and clean stored outputs."""

import ast
import importlib.util
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


def _pyproject():
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(requirement):
    return re.split(r"[<>=!\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


RUNNER_TOOLS = {"jupyter", "nbformat", "nbclient", "ipykernel"}
TEST_TOOLS = {"pytest", "nbval", "pytest-xdist"}


def test_requirements_txt_points_to_pyproject():
    lines = [l.strip() for l in (ROOT / "requirements.txt").read_text().splitlines()]
    # The package and its extras, at the versions of Colab's runtime (issue 26).
    assert [l for l in lines if l and not l.startswith("#")] == [
        "-c .ci/colab-constraints.txt", "-e .[test]"]
    assert "-r requirements.txt" in (ROOT / "environment.yml").read_text()


def test_dependencies_are_declared_once_bounded_and_split():
    project = _pyproject()["project"]
    runtime = project["dependencies"]
    extras = project["optional-dependencies"]
    for req in runtime + [r for reqs in extras.values() for r in reqs]:
        assert re.search(r">=[^,]+,<", req), f"unbounded requirement {req!r}"
    runtime_names = {_name(r) for r in runtime}
    # Colab installs the runtime dependencies: they must not touch its kernel.
    assert not runtime_names & (RUNNER_TOOLS | TEST_TOOLS), runtime_names
    assert {"tensorflow", "keras", "keras-cv", "scipy", "scikit-image", "tqdm"} <= runtime_names
    assert {_name(r) for r in extras["runner"]} == RUNNER_TOOLS
    # `pip install .[test] && pytest` must work: addopts has -n 2 (pytest-xdist).
    assert {_name(r) for r in extras["test"]} == RUNNER_TOOLS | TEST_TOOLS


def test_python_versions_claimed_are_the_tested_ones():
    # 3.11 (the README stack in CI) to 3.13 (Colab's runtime, .ci/colab_stack.sh).
    assert _pyproject()["project"]["requires-python"] == ">=3.11,<3.14"
    readme = (ROOT / "README.md").read_text()
    assert "3.11" in readme and "3.13" in readme and "colab_stack.sh" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "colab_stack.sh" in ci
    # every Python the package allows runs the tests in CI: 3.11 is the README stack's (this
    # machine's), 3.13 colab_stack.sh's default, any other one is named with --python
    low, high = re.fullmatch(r">=3\.(\d+),<3\.(\d+)", _pyproject()["project"]["requires-python"]).groups()
    for minor in range(int(low), int(high)):
        if minor not in (11, 13):
            assert f"bash .ci/colab_stack.sh --python 3.{minor} --no-build" in ci, f"3.{minor} is not tested"


def test_license_is_the_declared_one():
    assert _pyproject()["project"]["license"] == {"text": "Apache-2.0"}
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def _documented_commands():
    """Every `homl-cv ...` (or `python -m homl_cv ...`) command in the docs and chapters."""
    from homl_cv import cli

    texts = [(name, (ROOT / name).read_text()) for name in ("README.md", "BENCHMARKS.md")]
    texts.append(("homl_cv/cli.py docstring", cli.__doc__))
    for path in NOTEBOOKS + SOLUTIONS:
        for i, cell in enumerate(_cells(path)):
            if cell["cell_type"] == "markdown":
                texts.append((f"{path.name} cell {i}", "".join(cell["source"])))
    pattern = re.compile(r"(?:homl-cv|python -m homl_cv)( [^`\"\n]*)?(?=[`\"\n]|$)")
    found = []
    for where, text in texts:
        spans = re.findall(r"`([^`\n]+)`", text) + re.findall(r'"(homl-cv [^"]+)"', text)
        spans += re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)
        for span in spans:
            for match in pattern.finditer(span):
                found.append((where, (match.group(1) or "").strip()))
    return found


def test_every_documented_command_parses():
    import shlex

    from homl_cv import cli

    commands = _documented_commands()
    assert ("README.md", "run --full --online 03") in commands
    assert any(where.startswith("03_") for where, _ in commands), "chapter 03 names a command"
    parser = cli.build_parser()
    for where, command in commands:
        argv = shlex.split(command)
        if not argv or argv[0] == "bench":  # bare mention; bench forwards its arguments
            continue
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"{where}: `homl-cv {command}` is not a valid command")


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
    pyproject = _pyproject()
    addopts = pyproject["tool"]["pytest"]["ini_options"]["addopts"].split()
    assert "--nbval" in addopts
    if "-n" in addopts:
        assert "--dist" in addopts and addopts[addopts.index("--dist") + 1] == "loadscope", addopts
        assert any(_name(r) == "pytest-xdist" for r in pyproject["project"]["optional-dependencies"]["test"])


def _colab_tool():
    import importlib.util

    spec = importlib.util.spec_from_file_location("set_colab_cell", ROOT / ".ci" / "set_colab_cell.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.stem)
def test_colab_cell_pins_the_package_version(path):
    tool = _colab_tool()
    version = _pyproject()["project"]["version"]
    cells = _cells(path)
    source = "".join(cells[1]["source"])
    assert source == tool.colab_cell_source(version), "run: python .ci/set_colab_cell.py"
    # the badge opens the ref the cell installs: what a learner reads is what runs
    assert f"@{tool.REF}\"" in source and "--upgrade" not in source
    if path in NOTEBOOKS:
        assert tool.badge_ref("".join(cells[0]["source"])) == tool.REF
    assert "Runtime > Change runtime type" in source and "will run in" in source
    assert "raise SystemExit(" in source and "homl_cv.__version__" in source
    for name in tool.KEEP:  # held at Colab's versions, never upgraded
        assert f'"{name}"' in source
    # ipykernel is named only to be held; the install itself asks for no runner or test tool
    install = next(line for line in source.splitlines() if '"homl-cv @ git+' in line)
    for tool_name in RUNNER_TOOLS | TEST_TOOLS:
        assert tool_name not in install.replace("homl-cv", "")


def test_the_cell_fixes_colabs_tfds_with_the_tested_metadata_pin():
    tool = _colab_tool()
    assert tool.extra_pins() == ["tensorflow-metadata==1.17.3"]
    constraints = (ROOT / ".ci" / "colab-constraints.txt").read_text().splitlines()
    assert "tensorflow-metadata==1.17.3" in constraints
    for pin in ("tensorflow==2.20.0", "keras==3.13.2", "numpy==2.1.3", "protobuf==5.29.6",
                "ipykernel==6.17.1"):
        assert pin in constraints


def test_constraints_file_is_the_one_colab_pins_writes():
    freeze = ROOT.parent / "shared" / "colab" / "pip-freeze.txt"
    if not freeze.exists():
        pytest.skip("no ../shared/colab/pip-freeze.txt beside this checkout")
    spec = importlib.util.spec_from_file_location("colab_pins", ROOT / ".ci" / "colab_pins.py")
    pins = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pins)
    assert pins.main(["--check"]) == 0, "run: python .ci/colab_pins.py"


def _plan_tool():
    spec = importlib.util.spec_from_file_location("colab_plan", ROOT / ".ci" / "colab_plan.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _report(*pins):
    return {"install": [{"metadata": {"name": n, "version": v}} for n, v in
                        (pin.split("==") for pin in pins)]}


def test_plan_check_passes_a_plan_that_adds_only_what_colab_lacks():
    plan = _plan_tool()
    colab = plan.freeze_versions("numpy==2.1.3\ntensorflow-metadata==1.21.0\nscipy==1.16.3\n")
    report = _report("homl-cv==0.1.0", "keras-cv==0.9.0", "scipy==1.16.3",
                     "tensorflow-metadata==1.17.3")
    assert plan.plan_changes(report, colab, keep=["numpy"],
                             allowed={"tensorflow-metadata", "homl-cv"}) == []


@pytest.mark.parametrize("pin, expected", [
    ("numpy==2.2.0", "numpy 2.1.3 -> 2.2.0"),            # an upgrade of a kept package
    ("numpy==2.1.3", "numpy 2.1.3 -> 2.1.3"),            # a kept package is never reinstalled
    ("scipy==1.17.0", "scipy 1.16.3 -> 1.17.0"),         # any other Colab package moved
    ("Tensorflow_Metadata==1.21.0", None),               # the allowed change, names normalized
])
def test_plan_check_names_each_change_of_what_colab_ships(pin, expected):
    plan = _plan_tool()
    colab = plan.freeze_versions("numpy==2.1.3\nscipy==1.16.3\ntensorflow-metadata==1.21.0\n"
                                 "jupyter_kernel_gateway @ git+https://example/x\n")
    changes = plan.plan_changes(_report(pin), colab, keep=["numpy"], allowed={"tensorflow-metadata"})
    assert changes == ([expected] if expected else [])



def test_plan_check_without_colabs_list_says_where_it_looked(monkeypatch, tmp_path, capsys):
    plan = _plan_tool()
    monkeypatch.setattr(plan, "FREEZE", tmp_path / "shared" / "colab" / "pip-freeze.txt")
    assert plan.main([]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "shared" / "colab" / "pip-freeze.txt") in err and "beside" in err

MAX_NOTEBOOK_BYTES = 1_000_000
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.stem)
def test_stored_outputs_are_light_and_plain(path):
    size = path.stat().st_size
    assert size < MAX_NOTEBOOK_BYTES, (
        f"{path.name} weighs {size:,} bytes: re-run it with `homl-cv run NN --inplace` "
        f"(which shrinks its images) or make its figures smaller")
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert "widgets" not in nb["metadata"]
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            assert WIDGET_MIME not in data, f"cell {i}: a widget view is stored"
            texts = ["".join(out.get("text", []))] + [
                "".join(v) for k, v in data.items() if k.startswith("text/")]
            for text in texts:
                assert "\x1b[" not in text, f"cell {i}: ANSI escape codes stored: {text[:80]!r}"
                assert "\x08" not in text, f"cell {i}: backspaces stored: {text[:80]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.stem)
def test_no_cell_echoes_a_claims_float(path):
    # A cell ending in a bare claim(...) shows the returned float again, under the claim line,
    # and nbval compares that echo digit for digit (1.19e-07 here, 0.0 on another CPU).
    # A trailing ';' does not help: under nbval, IPython 7.34 (Colab's) reads the previous
    # cell to decide. Assign it: `_ = claim(...)`.
    for index, cell in enumerate(_cells(path)):
        source = "".join(cell["source"])
        if cell["cell_type"] != "code" or source.lstrip().startswith(("%", "!")):
            continue
        last = ast.parse(source).body[-1:]
        assert not (last and isinstance(last[0], ast.Expr) and isinstance(last[0].value, ast.Call)
                    and ast.unparse(last[0].value.func).endswith("claim")), (
            f"cell {index} ends in a bare claim(...), whose float nbval would compare digit for digit: "
            "write `_ = claim(...)`")


def _claim_calls(source: str):
    """The claim(...) calls of a cell's source (IPython magics skipped)."""
    code = "\n".join(line for line in source.split("\n") if not line.lstrip().startswith(("%", "!")))
    return [node for node in ast.walk(ast.parse(code))
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("claim")]


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.stem)
def test_every_claim_names_its_full_mode_bound(path):
    # A claim's at_least=/at_most=/near= are quick mode's bound, measured on the quick data; full
    # mode (the learner's default) runs on other data. Each claim says what holds there
    # (homl_cv.claims): full=measured(...) from an uncapped run, published(...) with a source,
    # SAME for what does not depend on the data, or full=None written out where neither exists.
    for index, cell in enumerate(_cells(path)):
        if cell["cell_type"] != "code":
            continue
        for call in _claim_calls("".join(cell["source"])):
            name = ast.unparse(call.args[0]) if call.args else "?"
            assert "full" in {k.arg for k in call.keywords}, (
                f"cell {index}: claim({name}, ...) has no full= bound: pass full=measured(...), "
                "published(...), SAME, or full=None with a comment saying why nothing can be checked")


def test_the_claim_scan_finds_a_claim_without_a_full_bound():
    calls = _claim_calls('%env X=1\n_ = claim("a", 1, at_least=0)\nclaims.claim("b", 1, at_least=0, full=SAME)')
    assert [{k.arg for k in c.keywords} for c in calls] == [{"at_least"}, {"at_least", "full"}]


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.stem)
def test_only_noisy_cells_skip_the_output_comparison(path):
    # nbval-ignore-output hides a cell's output from the comparison, so a result printed
    # there is checked by nothing. Only the banner, or a cell that says on its first line
    # why its output is noisy ("# not compared: training log"), may carry the tag.
    for index, cell in enumerate(_cells(path)):
        if "nbval-ignore-output" not in cell.get("metadata", {}).get("tags", []):
            continue
        source = "".join(cell["source"])
        assert "config.start_chapter(" in source or re.match(r"# not compared: \S", source), (
            f"cell {index} skips the output comparison without saying why: start it with "
            "'# not compared: <why its output varies>' or remove the nbval-ignore-output tag"
        )


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.stem)
def test_cells_that_say_not_compared_are_not_compared(path):
    # the comment documents the tag; without the tag nbval still compares the cell
    for index, cell in enumerate(_cells(path)):
        if cell["cell_type"] == "code" and "".join(cell["source"]).startswith("# not compared:"):
            assert "nbval-ignore-output" in cell.get("metadata", {}).get("tags", []), (
                f"cell {index} says '# not compared' but has no nbval-ignore-output tag: add the tag "
                "to its metadata (or make its output deterministic and drop the comment)")


def test_the_notebooks_run_first_exist():
    # conftest.HEAVIEST_FIRST orders pytest's work; a renamed chapter must not silently drop out
    import ast

    tree = ast.parse((ROOT / "conftest.py").read_text())
    heavy = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                 and getattr(node.targets[0], "id", "") == "HEAVIEST_FIRST")
    assert heavy and all((ROOT / path).is_file() for path in heavy), heavy
