"""The package's layout rules, checked by reading the source (no imports needed).

* calls flow downward: no import cycle between ``homl_cv`` modules;
* no ``module._private`` name crosses a module boundary, tests included;
* every module declares ``__all__``, and every name in it exists;
* no module holds more than 12 % of the package's lines;
* ``viz`` only draws: it computes no gradients.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "homl_cv"
MODULES = {path.stem: path for path in sorted(PACKAGE.glob("*.py"))}
MAX_SHARE = 0.12


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _sibling_imports(path: Path) -> dict:
    """``{local name: homl_cv module}`` for every ``homl_cv`` module ``path`` imports."""
    found = {}
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom) and node.module == "homl_cv":
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


def test_no_import_cycle_between_modules():
    graph = {name: set(_sibling_imports(path).values()) - {name} for name, path in MODULES.items()}
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
