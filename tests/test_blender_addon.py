"""Build the extension zip, install it with Blender's own extension operator, use it (real bpy)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("bpy", reason="install the [blender] extra (bpy==5.0.1) for add-on tests")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    sys.path.insert(0, str(ROOT))
    from build_addon import build

    tmp = tmp_path_factory.mktemp("addon")
    zip_path = build(tmp / "dist")
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp / "blender_user"))
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "blender_scripts" / "install_and_run.py"),
                           str(zip_path)], capture_output=True, text=True, env=env, cwd=tmp, timeout=300)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("JSON")), None)
    assert line, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(line[4:])


def test_installs_and_enables(installed):
    assert installed["install"] == ["FINISHED"]
    assert installed["enabled"] == [True, True]
    assert installed["panel_category"] == "JHOD"


def test_add_hand_creates_rig(installed):
    assert installed["add_hand"] == ["FINISHED"]
    assert installed["added_types"] == ["ARMATURE", "MESH"]
    assert installed["bones"][:2] == ["wrist", "index1"] and len(installed["bones"]) == 16
    assert installed["undo_flag"]
    assert installed["modules"] == []  # the add-on never imports torch or smplx


def test_bad_mano_path_reports_and_changes_nothing(installed):
    assert "hand model file not found" in installed["bad_mano"]
    assert installed["unchanged_after_error"]


def test_runs_on_its_bundled_core_alone(installed):
    """Stock Blender: no jhod_core installed, no torch/SciPy; the shipped model samples from the zip."""
    assert installed["generate"] == ["FINISHED"] and installed["generated_armatures"] == 2
    assert installed["sample_hand_object"] == ["FINISHED"]
    assert installed["joint_types"] == ["ARMATURE", "MESH", "MESH"]  # generated object + rigged hand
    assert {"pipeline", "numpy_inference", "refine"} <= set(installed["core_modules"])
