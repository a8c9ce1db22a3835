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


# ---------------------------------------------------------------- one name per thing


def _trees():
    for module, path in modules():
        yield module, path, ast.parse(path.read_text(), str(path))


def _is_sys_attr(node, names):
    return (isinstance(node, ast.Attribute) and node.attr in names
            and isinstance(node.value, ast.Name) and node.value.id == "sys")


_HOOKS = ("meta_path", "path_hooks", "path_importer_cache")
_WRITES = ("setdefault", "update", "pop", "popitem", "clear", "__setitem__", "__delitem__")


def import_machinery_uses(tree):
    """Lines that install an import hook or write into ``sys.modules``."""
    found = []
    for node in ast.walk(tree):
        if _is_sys_attr(node, _HOOKS):
            found.append((node.lineno, f"sys.{node.attr}"))
        elif isinstance(node, ast.Subscript) and _is_sys_attr(node.value, ("modules",)) \
                and isinstance(node.ctx, (ast.Store, ast.Del)):
            found.append((node.lineno, "sys.modules[...] ="))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in _WRITES and _is_sys_attr(node.func.value, ("modules",)):
            found.append((node.lineno, f"sys.modules.{node.func.attr}()"))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names]
            if "importlib.abc" in names or (getattr(node, "module", "") or "").startswith("importlib.abc"):
                found.append((node.lineno, "importlib.abc"))
    return sorted(found)


# The compiled tape writes its generated kernels to a file and registers that module
# under its own new name (numba's disk cache finds kernels by their module's name): no
# module of the package gets a second path. The only sys.modules write allowed.
GENERATED_MODULE_WRITES = {("core.tape_kernels", "sys.modules[...] =")}


def test_no_import_hook_and_no_sys_modules_write():
    bad = [f"{module}:{line} {what}" for module, _, tree in _trees()
           for line, what in import_machinery_uses(tree)
           if (module, what) not in GENERATED_MODULE_WRITES]
    assert not bad, "import machinery in the package:\n" + "\n".join(bad)


def test_the_machinery_check_can_fail():
    tree = ast.parse("import sys\nsys.meta_path.insert(0, F())\nsys.modules['a.b'] = m\n"
                     "sys.modules.setdefault('x', m)\nv = sys.modules.get('IPython')")
    assert [w for _, w in import_machinery_uses(tree)] == [
        "sys.meta_path", "sys.modules[...] =", "sys.modules.setdefault()"]


def test_every_module_is_reachable_under_one_import_path():
    """Import every module of the package; each module object is then in
    ``sys.modules`` under exactly one name, its own ``__name__``, the path of its file."""
    import importlib
    import sys
    for module, _ in modules():
        name = "micrograd_mlp" if module == "__init__" else f"micrograd_mlp.{module}"
        if module == "__main__":
            continue
        importlib.import_module(name)
    names_of = {}
    for name, mod in list(sys.modules.items()):
        if name == "micrograd_mlp" or name.startswith("micrograd_mlp."):
            names_of.setdefault(id(mod), []).append((name, mod))
    expected = {"micrograd_mlp" if m == "__init__" else f"micrograd_mlp.{m}" for m, _ in modules()}
    for pairs in names_of.values():
        assert len(pairs) == 1, f"one module under several names: {[n for n, _ in pairs]}"
        name, mod = pairs[0]
        assert mod.__name__ == name
        assert name in expected, f"{name} is not the path of a file of the package"


def public_definitions(tree):
    """Public names a module defines at its top level with ``def`` or ``class``."""
    return [node.name for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and not node.name.startswith("_")]


#: An interface every module of a room implements (the command-line dispatcher calls
#: ``add_arguments`` and ``run`` of each command module): one name, many homes by design.
INTERFACES = {("cli", "add_arguments"), ("cli", "run")}


def test_no_public_name_is_defined_twice():
    homes = {}
    for module, _, tree in _trees():
        for name in public_definitions(tree):
            if (module.split(".")[0], name) not in INTERFACES:
                homes.setdefault(name, []).append(module)
    twice = {name: where for name, where in homes.items() if len(where) > 1}
    assert not twice, "public names defined in two modules:\n" + "\n".join(
        f"{name}: {', '.join(where)}" for name, where in sorted(twice.items()))


# ---------------------------------------------------------------- described once

#: The modules where an op, an activation or a loss is described: its row, its registry.
REGISTRY_MODULES = {"core.registry", "core.primitives", "functions.composite",
                    "functions.activations", "functions.losses"}
#: What a comparison may not test against a name literal: an op, an activation, a loss.
_NAMED_BY = {"op", "name", "activation", "activation_name", "loss", "loss_name", "kind"}


def _known_names():
    from micrograd_mlp.core.registry import PRIMITIVES
    from micrograd_mlp.functions import activations, losses  # noqa: F401 (registers them)
    from micrograd_mlp.functions.composite import COMPOSITES
    return set(PRIMITIVES) | set(COMPOSITES) | set(losses.LOSSES)


def _subject(node):
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Subscript):
        return _subject(node.value)
    return None


def _literals(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for e in node.elts for s in _literals(e)]
    return []


def name_comparisons(tree, known):
    """``(line, text)`` of each comparison of an op, activation or loss (``x.op``,
    ``activation``, ``group.name`` ...) with a literal naming one (``"mul"``,
    ``"sigmoid"``)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left] + list(node.comparators)
        subjects = [_subject(s) for s in sides]
        literals = [lit for s in sides for lit in _literals(s) if lit in known]
        if literals and any(s in _NAMED_BY for s in subjects if s):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_no_comparison_of_an_op_activation_or_loss_name_outside_its_registry():
    known = _known_names()
    bad = [f"{module}:{line} {text}" for module, _, tree in _trees()
           if module not in REGISTRY_MODULES for line, text in name_comparisons(tree, known)]
    assert not bad, ("branches on an op, activation or loss name (read the row or the "
                     "composite's entry instead):\n" + "\n".join(bad))


def test_the_name_comparison_check_can_fail():
    tree = ast.parse("if p.op == 'mul': pass\nif activation in ('sigmoid', 'tanh'): pass\n"
                     "if group.name == 'mse': pass\nif loss == 'half': pass\nif x == 'mul': pass")
    found = [text for _, text in name_comparisons(tree, {"mul", "sigmoid", "tanh", "mse"})]
    assert found == ["p.op == 'mul'", "activation in ('sigmoid', 'tanh')", "group.name == 'mse'"]
