"""JHOD Grasp Studio core: hand model, object geometry, grasp metrics and (later) the joint
hand-object diffusion model. Blender-free; never imports bpy.

Importing this package is cheap and torch-free; torch is imported by the submodules that need it
(``jhod_core.hand.HandModel``), so the NumPy paths (``jhod_core.hand.numpy_forward``) run inside
Blender without torch.

Units: metres everywhere.
"""

__version__ = "0.1.0"
