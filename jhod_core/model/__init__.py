"""The JHOD model without torch: ``spec`` (state layout, noise schedule and update formulas), the weight file
format (``weights_file``) and the NumPy network (``numpy_inference``) that Blender runs.

The torch networks (object autoencoder, denoiser) and their training schedule are in ``jhod_core.torch``; the
reverse loop is ``jhod_core.pipeline.reverse``.

Model space: the diffusion state of one grasp is a flat vector of `spec.STATE_DIM` = 563 numbers,
[hand 51 | object latent 512], each part normalised by dataset statistics stored with the weights.
"""
