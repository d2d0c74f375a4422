"""The package's layout rules, checked by reading the source (no imports needed).

* calls flow downward: every module sits in one row of :data:`LAYERS` and
  imports only modules of lower rows or, where the row allows it, of its own
  row; topic modules never import each other, except the pairs declared in
  :data:`SIDEWAYS` with a reason (README, "Architecture", shows the rows);
* no import cycle between ``homl_cv`` modules;
* no ``module._private`` name crosses a module boundary, tests included;
* every module declares ``__all__``, and every name in it exists;
* no module holds more than 12 % of the package's lines;
* ``viz`` only draws: it computes no gradients.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "homl_cv"
MODULES = {path.stem: path for path in sorted(PACKAGE.glob("*.py"))}
MAX_SHARE = 0.12

# The rows, bottom first: (row, its modules, may a module import another of its own row?)
LAYERS = (
    ("foundation", {"__init__", "config", "checks", "sources", "listing", "claims"}, True),
    ("ops", {"boxes", "conv", "regions", "distribute", "rle", "roc"}, True),
    ("data", {"datasets", "pretrained", "data"}, True),
    ("models", {"models", "training"}, False),
    ("topics", {"localization", "detection", "rcnn", "ssd", "segmentation", "instances", "superres",
                "interpret", "failures", "style", "clip", "atrous", "tracking"}, False),
    ("front", {"viz", "bench", "rehearsal", "exercises", "cli", "__main__"}, True),
)
# Declared exceptions to "no import within a row without sharing": {(importer, imported): reason}.
SIDEWAYS: dict = {}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _sibling_imports(path: Path) -> dict:
    """``{local name: homl_cv module}`` for every ``homl_cv`` module ``path`` imports."""
    found = {}
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom) and node.level == 1:  # from . import x, from .x import y
            if node.module:
                found[node.module.split(".")[0]] = node.module.split(".")[0]
            else:
                found.update({alias.asname or alias.name: alias.name for alias in node.names
                              if alias.name in MODULES})
        elif isinstance(node, ast.ImportFrom) and node.module == "homl_cv":
            for alias in node.names:
                if alias.name in MODULES:
                    found[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("homl_cv."):
            found[node.module.split(".")[1]] = node.module.split(".")[1]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("homl_cv."):
                    module = alias.name.split(".")[1]
                    found[alias.asname or module] = module
    return found


def _private_names_imported(path: Path) -> list:
    """``from homl_cv.x import _y`` lines."""
    return [f"{node.module}.{alias.name}" for node in ast.walk(_tree(path))
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("homl_cv")
            for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")]


def _private_attributes_used(path: Path) -> list:
    """``module._name`` where ``module`` is a ``homl_cv`` module imported by ``path``."""
    modules = _sibling_imports(path)
    bad = []
    for node in ast.walk(_tree(path)):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in modules and node.attr.startswith("_")
                and not (node.attr.startswith("__") and node.attr.endswith("__"))):
            bad.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
    # Strings naming a private attribute, e.g. monkeypatch.setattr(module, "_name", ...)
    for node in ast.walk(_tree(path)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "setattr" and len(node.args) >= 2
                and isinstance(node.args[0], ast.Name) and node.args[0].id in modules
                and isinstance(node.args[1], ast.Constant) and str(node.args[1].value).startswith("_")):
            bad.append(f"setattr({node.args[0].id}, {node.args[1].value!r}) (line {node.lineno})")
    return bad


def _import_graph() -> dict:
    return {name: set(_sibling_imports(path).values()) - {name} for name, path in MODULES.items()}


def layering_violations(graph: dict, layers=LAYERS, sideways=SIDEWAYS) -> list:
    """Every ``"a imports b"`` of ``graph`` ({module: modules it imports}) that the rows forbid."""
    row_of = {module: (index, row, own) for index, (row, modules, own) in enumerate(layers) for module in modules}
    bad = [f"{module} is in no row of LAYERS: add it to one" for module in sorted(graph) if module not in row_of]
    for module in sorted(set(graph) & set(row_of)):
        index, row, own = row_of[module]
        for other in sorted(graph[module]):
            if other not in row_of:
                continue  # reported above
            other_index, other_row, _ = row_of[other]
            if other_index > index:
                bad.append(f"{module} ({row}) imports {other} ({other_row}), a higher row")
            elif other_index == index and not own and (module, other) not in sideways:
                bad.append(f"{module} imports {other}, sideways within {row}: move the shared code down a row "
                           f"or declare the pair in SIDEWAYS with a reason")
    return bad


def test_every_module_imports_only_from_lower_rows():
    assert not layering_violations(_import_graph()), layering_violations(_import_graph())


def test_every_row_module_exists_and_sits_in_one_row():
    listed = [module for _, modules, _ in LAYERS for module in modules]
    assert len(listed) == len(set(listed)), "a module sits in two rows of LAYERS"
    assert set(listed) == set(MODULES), f"LAYERS lists {sorted(set(listed) ^ set(MODULES))} wrongly"
    assert set(SIDEWAYS) <= {(a, b) for a in MODULES for b in MODULES}
    assert all(isinstance(reason, str) and reason for reason in SIDEWAYS.values())


def test_the_layering_check_fails_on_a_sideways_or_upward_import(tmp_path):
    graph = _import_graph()
    sideways = {**graph, "ssd": graph["ssd"] | {"rcnn"}}          # a topic importing another topic
    assert layering_violations(sideways) == [
        "ssd imports rcnn, sideways within topics: move the shared code down a row "
        "or declare the pair in SIDEWAYS with a reason"]
    assert not layering_violations(sideways, sideways={("ssd", "rcnn"): "a declared exception"})
    upward = {**graph, "boxes": graph["boxes"] | {"detection"}}    # an op importing a topic
    assert layering_violations(upward) == ["boxes (ops) imports detection (topics), a higher row"]
    assert layering_violations({**graph, "newmodule": set()}) == ["newmodule is in no row of LAYERS: add it to one"]
    # the import graph sees every spelling of an import, relative ones included
    for spelling in ("from homl_cv import rcnn", "from homl_cv import rcnn as r", "import homl_cv.rcnn",
                     "from homl_cv.rcnn import encode_deltas", "from . import rcnn", "from .rcnn import x",
                     "def f():\n    from homl_cv import rcnn"):
        planted = tmp_path / "ssd.py"
        planted.write_text(spelling + "\n", encoding="utf-8")
        assert set(_sibling_imports(planted).values()) == {"rcnn"}, spelling
    # within a row that allows it (front: cli imports rehearsal), an import is fine
    assert "rehearsal" in graph["cli"]


def test_no_import_cycle_between_modules():
    graph = _import_graph()
    state = {}  # name -> "visiting" | "done"

    def visit(name, trail):
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = trail[trail.index(name):] + [name]
            pytest.fail(f"import cycle: {' -> '.join(cycle)}")
        state[name] = "visiting"
        for other in sorted(graph[name]):
            visit(other, trail + [name])
        state[name] = "done"

    for name in sorted(graph):
        visit(name, [])


@pytest.mark.parametrize("path", sorted(MODULES.values()) + sorted((ROOT / "tests").glob("*.py")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_private_name_crosses_a_module_boundary(path):
    bad = _private_names_imported(path) + _private_attributes_used(path)
    assert not bad, f"{path.name} uses private names of other modules: {bad}; make them public."


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_declares_all_and_its_names_exist(name):
    tree = _tree(MODULES[name])
    declared = [node for node in tree.body if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)]
    assert len(declared) == 1, f"homl_cv/{name}.py must declare __all__ once"
    exported = ast.literal_eval(declared[0].value)
    defined = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            defined.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined |= {(a.asname or a.name).split(".")[0] for a in node.names}
    missing = sorted(set(exported) - defined)
    assert not missing, f"homl_cv/{name}.py lists names in __all__ it does not define: {missing}"
    assert len(exported) == len(set(exported)), f"homl_cv/{name}.py lists a name twice in __all__"


def test_every_module_is_documented_in_the_package_docstring():
    doc = ast.get_docstring(_tree(MODULES["__init__"]))
    missing = [name for name in MODULES if not name.startswith("__") and f"``{name}``" not in doc]
    assert not missing, f"homl_cv/__init__.py's module map does not mention {missing}"


def test_no_module_is_too_large():
    lines = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()}
    total = sum(lines.values())
    too_big = {name: f"{n / total:.1%}" for name, n in lines.items() if n > MAX_SHARE * total}
    assert not too_big, f"modules above {MAX_SHARE:.0%} of the package's {total} lines: {too_big}; split them."


def test_viz_only_draws():
    tree = _tree(MODULES["viz"])
    names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    names |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert not names & {"GradientTape", "gradient", "gradients", "_keras_history"}
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names}
    assert "tensorflow" not in imported, "viz must not import tensorflow: compute in interpret"


def test_no_keras_private_history_anywhere():
    users = [name for name, path in MODULES.items() if "_keras_history" in path.read_text(encoding="utf-8")]
    assert not users, f"{users} reach into Keras' private _keras_history: use public layer outputs"


def _readme_architecture():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text[text.index("## Architecture"):].split("\n## ", 1)[0]


def test_readme_table_names_every_module_once():
    section = _readme_architecture()
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    named = [name for line in rows for name in re.findall(r"`(\w+)`", line.split("|")[1])]
    expected = sorted(name for name in MODULES if not name.startswith("__"))
    twice = sorted({name for name in named if named.count(name) > 1})
    assert not twice, f"README's Architecture table lists {twice} more than once"
    assert sorted(named) == expected, (
        f"README's Architecture table: missing {sorted(set(expected) - set(named))}, "
        f"unknown {sorted(set(named) - set(expected))}")


def test_readme_diagram_is_the_layers_table():
    diagram = _readme_architecture().split("```text\n", 1)[1].split("```", 1)[0]
    found, row = {}, None
    for line in diagram.splitlines():
        words = line.split("(")[0].split()
        if line[:1].strip():                      # a new row starts with its name
            row, words = words[0], words[1:]
        found.setdefault(row, set()).update(w for w in words if w != "->")
    expected = {name: modules for name, modules, _ in LAYERS}
    assert found == expected, f"README's diagram rows {found} differ from LAYERS {expected}"
