"""The package's imports follow the layer order declared in micrograd_mlp.architecture:
no upward import, no import across rooms of one level, no circle, no import of the
package's own modules inside a function, no private name taken from another module."""
import ast
from pathlib import Path

import pytest

from micrograd_mlp import architecture as A

PKG = Path(__file__).resolve().parent.parent / "micrograd_mlp"


def modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        yield ".".join(parts), path


def resolve(module, path, node):
    """Absolute in-package module names an import statement refers to."""
    pkg_parts = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    if module == "__init__":
        pkg_parts = []
    if isinstance(node, ast.Import):
        return [a.name[len("micrograd_mlp."):] for a in node.names if a.name.startswith("micrograd_mlp.")]
    if node.level == 0:
        if node.module and node.module.startswith("micrograd_mlp"):
            base = node.module[len("micrograd_mlp"):].lstrip(".")
        else:
            return []
    else:
        up = pkg_parts[: len(pkg_parts) - (node.level - 1)]
        base = ".".join(up + ([node.module] if node.module else []))
    known = dict(modules())
    found = [f"{base}.{a.name}".lstrip(".") for a in node.names
             if f"{base}.{a.name}".lstrip(".") in known]
    return found or [base]


def imports():
    for module, path in modules():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield module, path, node, resolve(module, path, node)


def in_function(tree):
    found = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    found.append(node)
    return found


def test_every_module_has_a_room():
    for module, _ in modules():
        A.level_of(A.room_of(module))


@pytest.mark.slow
def test_no_upward_or_sideways_import():
    bad = []
    for module, path, node, targets in imports():
        room = A.room_of(module)
        for target in targets:
            troom = A.room_of(target)
            if troom == room:
                continue
            if A.level_of(troom) >= A.level_of(room):
                bad.append(f"{module} -> {target} (line {node.lineno})")
    assert not bad, "imports that run upward or sideways:\n" + "\n".join(bad)


@pytest.mark.slow
def test_no_circle():
    graph = {}
    for module, path, node, targets in imports():
        for t in targets:
            if t != module and t in dict(modules()):
                graph.setdefault(module, set()).add(t)
    state = {}

    def visit(m, stack):
        state[m] = "open"
        for t in graph.get(m, ()):
            if state.get(t) == "open":
                pytest.fail("circle: " + " -> ".join(stack[stack.index(t):] + [t]))
            if t not in state:
                visit(t, stack + [t])
        state[m] = "done"

    for m in list(graph):
        if m not in state:
            visit(m, [m])


@pytest.mark.slow
def test_no_function_level_import_of_the_package():
    bad = []
    for module, path in modules():
        tree = ast.parse(path.read_text())
        for node in in_function(tree):
            if isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith("micrograd_mlp")):
                bad.append(f"{module}:{node.lineno}")
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                if name.startswith("micrograd_mlp"):
                    bad.append(f"{module}:{node.lineno}")
                elif isinstance(node, ast.Import) or node.level == 0:
                    if name.split(".")[0] not in A.LAZY_DEPENDENCIES:
                        bad.append(f"{module}:{node.lineno} imports {name} inside a function")
    assert not bad, "function-level imports:\n" + "\n".join(bad)


@pytest.mark.slow
def test_no_private_name_taken_from_another_module():
    bad = []
    for module, path, node, targets in imports():
        if isinstance(node, ast.ImportFrom) and targets:
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__"):
                    bad.append(f"{module}:{node.lineno} takes {a.name}")
    assert not bad, "\n".join(bad)


def test_the_checker_sees_an_upward_import():
    # the test above must be able to fail: an engine module importing a view is upward
    node = ast.parse("from ..views import graph").body[0]
    targets = resolve("core.engine", PKG / "core" / "engine.py", node)
    assert targets == ["views.graph"]
    assert A.level_of(A.room_of(targets[0])) > A.level_of(A.room_of("core.engine"))
