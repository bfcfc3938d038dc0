"""The JHOD diffusion model: object autoencoder, joint hand-object denoiser, noise schedule, samplers.

Importing this package is cheap and torch-free. The torch parts are in the submodules
(`schedule`, `autoencoder`, `denoiser`, `sampling`); `numpy_inference` runs the trained denoiser
without torch (inside Blender); `spec` holds the layout and formulas both sides share.

Model space: the diffusion state of one grasp is a flat vector of `spec.STATE_DIM` = 563 numbers,
[hand 51 | object latent 512], each part normalised by dataset statistics stored with the weights.
"""
