"""The code's layers, checked by walking its imports: no import cycles, the add-on never imports `training`, the
torch-free part of jhod_core that the add-on bundles imports no torch, trimesh, SciPy or smplx at module level."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("jhod_core", "jhod_blender", "training")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    """Absolute names of the modules `path` imports (relative imports resolved), anywhere in the file or only
    at module level."""
    tree = ast.parse(path.read_text(), str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}  # `from pkg import module`
    return found


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")
            if "__pycache__" not in p.parts}


def test_no_import_cycles():
    modules = project_modules()
    graph = {name: {m for m in imports(path) if m in modules and m != name} for name, path in modules.items()}
    # `from . import x` names the package too; a module importing its own package is not a layer cycle
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    cycles = []
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_addon_never_imports_training():
    offenders = [f"{p.relative_to(ROOT)} imports {m}" for p in (ROOT / "jhod_blender").rglob("*.py")
                 for m in imports(p) if m == "training" or m.startswith("training.")]
    assert not offenders, offenders


def bundled_core_modules() -> list[Path]:
    from build_addon import core_files

    return [ROOT / "jhod_core" / name for name in core_files() if name.endswith(".py")]


@pytest.mark.parametrize("heavy", ["torch", "trimesh", "scipy", "smplx"])
def test_bundled_core_imports_no_heavy_library_at_module_level(heavy):
    offenders = [str(p.relative_to(ROOT)) for p in bundled_core_modules()
                 if any(m == heavy or m.startswith(heavy + ".") for m in imports(p, top_level_only=True))]
    assert not offenders, f"{heavy} imported at module level by bundled modules: {offenders}"


def test_the_addon_reaches_jhod_core_only_through_its_core_module():
    """jhod_blender/core.py picks the bundled copy or the checkout's; everything else goes through it."""
    offenders = [f"{p.relative_to(ROOT)} imports {m}" for p in (ROOT / "jhod_blender").rglob("*.py")
                 if p.name != "core.py" for m in imports(p) if m.split(".")[0] == "jhod_core"]
    assert not offenders, offenders
