"""``jhod eval-grasp``: JSON output, summary line and clean errors for bad input."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import trimesh

from jhod_core.cli import main

GOOD_OFF = "OFF\n4 4 0\n0 0 0\n0.05 0 0\n0 0.05 0\n0 0 0.05\n3 0 2 1\n3 0 1 3\n3 0 3 2\n3 1 2 3\n"


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A 6 cm cube and two closed sphere 'hands': one 1 cm deep in its top face, one 1 cm above it."""
    d = tmp_path_factory.mktemp("eval")
    trimesh.creation.box((0.06,) * 3).export(d / "cube.obj")
    for name, z in [("deep", 0.05), ("apart", 0.07)]:
        sphere = trimesh.creation.uv_sphere(0.03, count=[24, 24])
        sphere.apply_translation([0, 0, z])
        sphere.export(d / f"{name}.ply")
    return d


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_grasp_two_hands_with_summary(scene, capsys):
    code, out, err = run(["eval-grasp", scene / "cube.obj", scene / "deep.ply", scene / "apart.ply",
                          "--no-sim", "--pitch", "0.002"], capsys)
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 3
    deep, apart, summary = lines
    assert deep["hand"] == str(scene / "deep.ply")
    assert deep["penetration_depth_cm"] == pytest.approx(1.0, abs=1e-6)  # PLY stores float32
    assert deep["intersection_volume_cm3"] == pytest.approx(np.pi * 8 / 3, rel=0.1)  # cap d=1, r=3 cm
    assert deep["contact"] is True and deep["sim_displacement_cm"] is None
    assert apart["penetration_depth_cm"] == 0 and apart["intersection_volume_cm3"] == 0 and apart["contact"] is False
    assert summary["summary"] is True and summary["n_hands"] == 2 and summary["contact_ratio"] == 0.5
    assert summary["mean_penetration_depth_cm"] == pytest.approx(0.5, abs=1e-6)
    assert summary["mean_sim_displacement_cm"] is None


def test_eval_grasp_with_simulation_subprocess_stdout_is_pure_json(scene):
    # a real process: pybullet/VHACD print from C, which must not reach stdout
    proc = subprocess.run(
        [sys.executable, "-m", "jhod_core.cli", "eval-grasp", str(scene / "cube.obj"), str(scene / "apart.ply"),
         "--pitch", "0.004"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()
    result = json.loads(line)
    assert result["sim_displacement_cm"] == pytest.approx(10.684, abs=0.01)  # nothing holds the cube: free fall
    assert "Traceback" not in proc.stderr


def _write(path, content):
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.obj", None, "error: object: mesh file not found: "),
        ("corrupt.ply", b"\x00\x01\x02 not a mesh \xff\xfe" * 30, "error: object: cannot read mesh file "),
        ("corrupt.glb", b"\x00\x01\x02 not a mesh \xff\xfe" * 30, "error: object: cannot read mesh file "),
        ("empty.obj", b"", "error: object: .*empty.obj holds no mesh geometry"),
        ("cloud.obj", "v 0 0 0\nv 0.05 0 0\nv 0 0.05 0\n", "error: object: .*point cloud"),
        ("nofaces.off", "OFF\n3 0 0\n0 0 0\n0.05 0 0\n0 0.05 0\n",
         "error: object .*nofaces.off: mesh has 3 vertices but no faces"),
        ("nan.off", GOOD_OFF.replace("0.05 0 0", "nan 0 0"),
         "error: object .*nan.off: mesh has NaN or infinite coordinates"),
        ("flat.obj", "v 0 0 0\nv 0 0 0\nv 0 0 0\nf 1 2 3\n", "error: object .*flat.obj: every face has zero area"),
        ("tiny.off", GOOD_OFF.replace("0.05", "0.001"), r"error: object .*tiny.off: object is 0.001 m across"),
        ("huge.off", GOOD_OFF.replace("0.05", "5"), r"error: object .*huge.off: object is 5 m across.*millimetres"),
        ("mesh.txt", "hello", "error: object: unsupported mesh format '.txt'"),
    ],
    ids=["missing", "corrupt-ply", "corrupt-glb", "empty", "point-cloud", "no-faces", "nan", "degenerate",
         "1mm", "5m", "unsupported"],
)
def test_bad_object_gives_one_error_line(scene, tmp_path, capsys, name, content, message):
    path = tmp_path / name if content is None else _write(tmp_path / name, content)
    code, out, err = run(["eval-grasp", path, scene / "deep.ply", "--no-sim"], capsys)
    assert code == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert re.search(message, err), err
    assert "Traceback" not in err


def test_bad_hand_names_the_hand(scene, tmp_path, capsys):
    code, out, err = run(["eval-grasp", scene / "cube.obj", scene / "deep.ply", tmp_path / "gone.ply"], capsys)
    assert code == 1 and out == ""  # inputs are all checked before any hand is evaluated
    assert err.startswith("error: hand: mesh file not found: ") and "gone.ply" in err


def test_bad_pitch_and_usage(scene, capsys):
    code, _, err = run(["eval-grasp", scene / "cube.obj", scene / "deep.ply", "--pitch", "-1"], capsys)
    assert code == 1 and err.startswith("error: --pitch must be positive")
    code, _, err = run(["eval-grasp", scene / "cube.obj", scene / "deep.ply", "--pitch", "1e-6", "--no-sim"], capsys)
    assert code == 1 and err.startswith("error: a grid of pitch 1e-06 m") and "use a larger pitch" in err
    with pytest.raises(SystemExit) as exc:
        main(["eval-grasp", str(scene / "cube.obj")])  # no hand: argparse usage error
    assert exc.value.code == 2


def test_open_object_warns_but_evaluates(scene, tmp_path, capsys):
    cube = trimesh.creation.box((0.06,) * 3)
    keep = cube.triangles_center[:, 2] > -0.03 + 1e-9  # drop the bottom face
    trimesh.Trimesh(cube.vertices, cube.faces[keep]).export(tmp_path / "open.obj")
    code, out, err = run(["eval-grasp", tmp_path / "open.obj", scene / "deep.ply", "--no-sim", "--pitch", "0.004"],
                         capsys)
    assert code == 0
    assert err.startswith("warning: object ") and "not watertight" in err
    assert json.loads(out)["penetration_depth_cm"] == pytest.approx(1.0, abs=1e-6)  # PLY stores float32
