"""A user's MANO files end to end: sampling (CLI), evaluation, training and the Blender add-on all use the
MANO_RIGHT/LEFT pickles (MANO's exact structure, synthetic: no MANO data) instead of the open hand."""

import numpy as np
import pytest
import torch
import trimesh

from jhod_core.cli import main as jhod
from jhod_core.hand import load_hand_data
from jhod_core.hand.model_file import ENV_VAR
from tests.mano_fixture import synthetic_mano
from tests.tiny_model import write_tiny_weights


@pytest.fixture()
def mano(tmp_path, monkeypatch):
    folder = tmp_path / "mano"
    folder.mkdir()
    synthetic_mano(folder)
    monkeypatch.setenv(ENV_VAR, str(folder))
    return folder


@pytest.fixture()
def weights(tmp_path):
    torch.set_num_threads(1)
    (tmp_path / "w").mkdir()
    return write_tiny_weights(tmp_path / "w")


def test_sampling_and_evaluation_use_the_users_mano(mano, weights, tmp_path):
    assert load_hand_data().num_vertices == 778 and not load_hand_data().is_open_hand
    box = trimesh.creation.box((0.06, 0.05, 0.1))
    box.export(tmp_path / "box.ply")
    for side in ("right", "left"):
        out = tmp_path / f"out_{side}"
        assert jhod(["sample", str(tmp_path / "box.ply"), "--num", "2", "--steps", "2", "--weights", str(weights),
                     "--side", side, "--out", str(out)]) == 0
        hand = trimesh.load(out / "hand_000.obj", process=False)
        assert len(hand.vertices) == 778  # MANO's hand, not the open hand's 1610 vertices
        with np.load(out / "grasps.npz") as z:
            assert z["keypoints"].shape == (2, 21, 3)
    from training.eval.__main__ import main as evaluate

    assert evaluate(["--weights", str(weights), "--splits", "ood_test", "--max-objects", "1", "--num", "2",
                     "--steps", "2", "--methods", "jhod", "--no-sim", "--out", str(tmp_path / "eval")]) == 0


def test_the_add_on_builds_mano_hands(mano, weights):
    bpy = pytest.importorskip("bpy", reason="install the [blender] extra (bpy==5.0.1) for add-on tests")
    import jhod_blender
    from jhod_blender import rig

    bpy.ops.wm.read_factory_settings(use_empty=True)
    jhod_blender.register()
    entry = bpy.context.preferences.addons.get("jhod_blender") or bpy.context.preferences.addons.new()
    entry.module = "jhod_blender"
    try:
        entry.preferences.backend, entry.preferences.checkpoint_path = "NUMPY", str(weights)
        entry.preferences.mano_path = str(mano)
        scene = bpy.context.scene
        scene.jhod.num_grasps, scene.jhod.steps = 1, 2
        bpy.ops.mesh.primitive_cube_add(size=0.08)
        assert bpy.ops.jhod.generate_grasp() == {"FINISHED"}
        arm = bpy.context.view_layer.objects.active
        skin = next(c for c in arm.children if c.type == "MESH")
        assert skin[rig.CORE_VERTICES_KEY] == 778 and len(rig.evaluated_vertices(skin)) == 778
        assert bpy.ops.jhod.fit_fingers() == {"FINISHED"}
    finally:
        jhod_blender.unregister()
        bpy.context.preferences.addons.remove(entry)


def test_training_runs_on_the_users_mano(mano, tmp_path, capsys):
    """The denoiser's losses (joint distance fields, vertices) use the user's MANO hand."""
    from tests.test_model import _tiny_corpus
    from training import train_autoencoder, train_diffusion

    objects, grasps = _tiny_corpus(tmp_path)
    common = ["--no-progress", "--log-every", "1", "--eval-every", "2", "--batch", "2"]
    assert train_autoencoder.main(["--objects", str(objects), "--out", str(tmp_path / "ae"), "--steps", "1",
                                   "--encoder-points", "256", "--stage1", "16,32", "--stage2", "32,32",
                                   "--head-hidden", "64", "--context", "32", "--patch-hidden", "16", *common]) == 0
    assert train_diffusion.main(["--objects", str(objects), "--grasps", str(grasps), "--autoencoder",
                                 str(tmp_path / "ae" / "autoencoder.pt"), "--out", str(tmp_path / "diff"),
                                 "--d-model", "32", "--layers", "1", "--heads", "2", "--ff", "32",
                                 "--encoder-hidden", "32", "--steps", "2", "--eval-batches", "1", *common]) == 0
    from jhod_core.hand import HandModel

    assert HandModel().data.num_vertices == 778  # what the training's hand model was
