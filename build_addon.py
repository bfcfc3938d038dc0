"""Build the installable Blender extension: dist/jhod_grasp-<version>.zip.

The zip holds the add-on (jhod_blender/*), blender_manifest.toml at its root, and the torch-free modules of
jhod_core the add-on imports (followed from jhod_blender/core.py: the pipeline, NumPy network, refinement, hand
model), the open hand and the shipped weights (.npz). Run: python build_addon.py
"""

from __future__ import annotations

import ast
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# the shipped model in its torch-free format, the open hand and its licence
DATA_FILES = ["assets/model/autoencoder.npz", "assets/model/denoiser.npz", "assets/model/MODEL_CARD.md",
              "assets/OPENHAND_RIGHT.npz", "assets/OPENHAND_LICENSE.md", "assets/MAKEHUMAN_CHARACTER.npz",
              "assets/MAKEHUMAN_CHARACTER_LICENSE.md"]
OPTIONAL_DATA_FILES = ["assets/model/critic.npz"]  # shipped when the model has one (jhod_core.critic)


def core_files() -> list[str]:
    """The jhod_core modules the add-on needs, found by following imports from ``jhod_blender/core.py`` (every
    import in those files, also inside functions), plus each one's package ``__init__.py``: nothing is listed by
    hand, and nothing outside that closure (the CLI, metrics) nor the torch folder ``jhod_core/torch`` goes into the
    zip."""
    import ast

    core = ROOT / "jhod_core"
    wanted, todo = set(), [ROOT / "jhod_blender" / "core.py"]
    while todo:
        path = todo.pop()
        tree = ast.parse(path.read_text(), str(path))
        package = path.parent
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or node.level == 0:
                continue
            base = package
            for _ in range(node.level - 1):
                base = base.parent
            if path.parent == ROOT / "jhod_blender":  # `from .jhod_core.x import y` in the add-on
                base = ROOT
            target = base.joinpath(*(node.module or "").split(".")) if node.module else base
            for name in [alias.name for alias in node.names] + [None]:
                for candidate in ((target / name).with_suffix(".py") if name else target.with_suffix(".py"),
                                  (target / name / "__init__.py") if name else target / "__init__.py"):
                    if candidate.is_file() and core in candidate.parents and core / "torch" not in candidate.parents \
                            and candidate not in wanted:  # jhod_core/torch: imported lazily, never in Blender
                        wanted.add(candidate)
                        todo.append(candidate)
    for path in list(wanted):  # packages need their __init__.py to import
        for parent in path.parents:
            if parent == core.parent:
                break
            wanted.add(parent / "__init__.py")
    return sorted(p.relative_to(core).as_posix() for p in wanted if p.is_file())


def absolute_core_imports(path: Path) -> list[str]:
    """'file:line' of every ``import jhod_core...`` / ``from jhod_core... import`` in a bundled module.

    Inside Blender the bundled copy is ``bl_ext.<repo>.jhod_grasp.jhod_core``: an absolute import would
    find nothing there (or, on a developer's machine, silently a different installed jhod_core).
    """
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
        if any(n == "jhod_core" or n.startswith("jhod_core.") for n in names):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def build(out_dir: Path = ROOT / "dist") -> Path:
    if not (ROOT / "jhod_blender" / "__init__.py").exists():
        raise SystemExit("error: jhod_blender/__init__.py does not exist yet: the add-on is not implemented, "
                         "so there is nothing installable to build")
    modules = core_files()
    absolute = [hit for name in modules for hit in absolute_core_imports(ROOT / "jhod_core" / name)]
    if absolute:
        raise SystemExit("error: bundled jhod_core modules must import each other relatively: " + ", ".join(absolute))
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{manifest['id']}-{manifest['version']}.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(ROOT / "blender_manifest.toml", "blender_manifest.toml")
        zf.write(ROOT / "LICENSE", "LICENSE")
        for path in sorted((ROOT / "jhod_blender").rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(ROOT / "jhod_blender").as_posix())
        optional = [name for name in OPTIONAL_DATA_FILES if (ROOT / "jhod_core" / name).is_file()]
        for name in modules + DATA_FILES + optional:
            zf.write(ROOT / "jhod_core" / name, f"jhod_core/{name}")
    return out


if __name__ == "__main__":
    print(build())
    sys.exit(0)
