"""Build the installable Blender extension: dist/jhod_grasp-<version>.zip.

The zip holds the add-on (jhod_blender/*), blender_manifest.toml at its root, and the torch-free
parts of jhod_core the add-on imports relatively (hand model files and NumPy forward, the NumPy
model, sampler and refinement, errors, assets and the shipped weights in .npz form). Run: python build_addon.py
"""

from __future__ import annotations

import ast
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# torch-free modules of jhod_core that run inside Blender
CORE_FILES = ["__init__.py", "errors.py", "file_version.py", "hand/__init__.py", "hand/model_file.py",
              "hand/numpy_forward.py", "hand/topology.py", "hand/joint_limits.py", "hand/poses.py", "hand/regions.py",
              "hand/params.py", "geometry/__init__.py", "geometry/sampling.py", "geometry/limits.py", "refine.py",
              "pipeline.py", "io/__init__.py", "io/atomic.py", "io/grasp_shards.py",
              "model/__init__.py", "model/spec.py", "model/numpy_inference.py", "model/weights_file.py",
              "assets/OPENHAND_RIGHT.npz", "assets/OPENHAND_LICENSE.md"]
# the shipped model in its torch-free format (absent before the first release of weights)
MODEL_FILES = ["assets/model/autoencoder.npz", "assets/model/denoiser.npz", "assets/model/MODEL_CARD.md"]


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
    absolute = [hit for name in CORE_FILES if name.endswith(".py")
                for hit in absolute_core_imports(ROOT / "jhod_core" / name)]
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
        for name in CORE_FILES:
            zf.write(ROOT / "jhod_core" / name, f"jhod_core/{name}")
        for name in MODEL_FILES:
            if (ROOT / "jhod_core" / name).is_file():
                zf.write(ROOT / "jhod_core" / name, f"jhod_core/{name}")
    return out


if __name__ == "__main__":
    print(build())
    sys.exit(0)
