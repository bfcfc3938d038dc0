"""The torch side of jhod_core: the networks (object autoencoder, denoiser) and their training-time noise
schedule, the torch hand model, the torch backend of ``jhod_core.pipeline``, differentiable distance fields.

Everything else in jhod_core runs without torch (NumPy only: what the Blender add-on bundles).
"""
