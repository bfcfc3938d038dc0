"""Object geometry for JHOD: loading/validation, sampling, nearest neighbours, inside tests, grids.

Pure NumPy/SciPy/trimesh (no torch, no bpy); units are metres. The submodules are the API:
``mesh``, ``sampling``, ``spatial`` (``jhod_core.torch.spatial`` for the torch twin), ``inside``, ``voxels``.
"""
