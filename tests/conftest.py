"""Fixtures the test modules share: one torch thread, tiny random-weight models, the add-on registered in bpy."""

from types import SimpleNamespace

import pytest

ADDON_STEPS = 3  # denoising steps the add-on tests sample with (tiny weights: only the contract is checked)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for the module (on a busy 2-core machine more threads were several times slower)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Tiny random-weight models saved and exported like the training scripts do (tests/tiny_model.py)."""
    from tests.tiny_model import write_tiny_weights

    return write_tiny_weights(tmp_path_factory.mktemp("weights"))


@pytest.fixture()
def addon(weights):
    """Factory scene, add-on registered from the checkout, preferences on the NumPy backend and the tiny weights;
    two grasps, seed 3, ``ADDON_STEPS`` steps."""
    bpy = pytest.importorskip("bpy", reason="install the [blender] extra (bpy==5.0.1) for add-on tests")
    import jhod_blender

    bpy.ops.wm.read_factory_settings(use_empty=True)
    jhod_blender.register()
    addons = bpy.context.preferences.addons
    entry = addons.get("jhod_blender") or addons.new()
    entry.module = "jhod_blender"
    prefs = entry.preferences
    prefs.backend = "NUMPY"
    prefs.checkpoint_path = str(weights)
    scene = bpy.context.scene
    scene.jhod.num_grasps, scene.jhod.seed, scene.jhod.steps = 2, 3, ADDON_STEPS
    yield SimpleNamespace(prefs=prefs, scene=scene)
    jhod_blender.unregister()
    addons.remove(entry)
