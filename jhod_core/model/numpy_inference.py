"""The trained denoiser and object autoencoder in NumPy only (no torch): ``NumpyBackend``, the network calls of
``jhod_core.pipeline`` inside Blender.

Reads the ``.npz`` files written by ``JHODDenoiser.export_npz`` / ``ObjectAutoencoder.export_npz`` (plain float32
arrays + a ``config`` JSON, no pickle), the same files the torch backend reads. Computes in float32 like torch
(half the memory traffic of float64: the 4.8 M weights are read on every step); matches the torch model to
< 1e-4 for the same inputs (tests/test_model.py).
"""

from __future__ import annotations

import math

import numpy as np

DTYPE = np.float32

from . import spec, surface_features
from .weights_file import read_npz

# Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, enough for exact-GELU parity (numpy has no erf)
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def _erf(x: np.ndarray) -> np.ndarray:
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + _ERF_P * a)
    poly = t * (_ERF_A[0] + t * (_ERF_A[1] + t * (_ERF_A[2] + t * (_ERF_A[3] + t * _ERF_A[4]))))
    return s * (1.0 - poly * np.exp(-a * a))


_ACTIVATIONS = {
    "gelu": lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),
    "relu": lambda x: np.maximum(x, 0.0),
}


def _matmul(x, w):
    """x (..., n) @ w (n, m) as one 2-D product: NumPy runs a 3-D @ 2-D product as one small product per leading
    index, 3-7x slower for the denoiser's (grasps, 5 tokens, 256) activations."""
    return (x.reshape(-1, x.shape[-1]) @ w).reshape(x.shape[:-1] + (w.shape[-1],))


def _layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


class NumpyDenoiser:
    """``JHODDenoiser`` (eval mode) from an exported .npz."""

    def __init__(self, path):
        self.config, arrays, _ = read_npz(path)
        self.w = {k: v.astype(DTYPE) for k, v in arrays.items()}
        c = self.config
        self.act = _ACTIVATIONS[c["activation"]]
        self.alphas_cumprod = spec.cosine_alphas_cumprod(c["num_train_steps"])
        self.time_table = spec.sinusoidal_table(c["num_train_steps"] + 1, c["d_model"]).astype(DTYPE)

    def _linear(self, x, name):
        return _matmul(x, self.w[name + ".weight"].T) + self.w[name + ".bias"]

    def _mlp(self, x, name, activation):
        return self._linear(activation(self._linear(x, name + ".0")), name + ".2")

    def _time(self, t, name):
        silu = lambda v: v / (1.0 + np.exp(-v))  # noqa: E731
        return self._mlp(self.time_table[np.asarray(t, dtype=np.int64)], name + ".mlp", silu)

    def _attention(self, x, p, queries: int):
        """Self-attention of tokens x (B, N, d), for the first ``queries`` tokens only (B, queries, d)."""
        b, n, d = x.shape
        h = self.config["heads"]
        w, bias = self.w[p + "in_proj_weight"], self.w[p + "in_proj_bias"]
        q = (_matmul(x[:, :queries], w[:d].T) + bias[:d]).reshape(b, queries, h, d // h).transpose(0, 2, 1, 3)
        k, v = (a.reshape(b, n, h, d // h).transpose(0, 2, 1, 3)
                for a in np.split(_matmul(x, w[d:].T) + bias[d:], 2, axis=-1))
        att = _softmax(q @ k.transpose(0, 1, 3, 2) / math.sqrt(d // h))
        out = (att @ v).transpose(0, 2, 1, 3).reshape(b, queries, d)
        return self._linear(out, p + "out_proj")

    def _encoder_layer(self, x, i, queries: int | None = None):
        """Encoder layer ``i`` on tokens x (B, N, d); the outputs of its first ``queries`` tokens (default all)."""
        p = f"transformer.layers.{i}."
        m = x.shape[1] if queries is None else queries
        ff = lambda v: self._linear(self.act(self._linear(v, p + "linear1")), p + "linear2")  # noqa: E731
        norm = lambda v, k: _layer_norm(v, self.w[f"{p}norm{k}.weight"], self.w[f"{p}norm{k}.bias"])  # noqa: E731
        if self.config["norm_first"]:
            x = x[:, :m] + self._attention(norm(x, 1), p + "self_attn.", m)
            return x + ff(norm(x, 2))
        x = norm(x[:, :m] + self._attention(x, p + "self_attn.", m), 1)
        return norm(x + ff(x), 2)

    def _told(self, hand_token, value, flag: str, name: str, dim: int, what: str):
        """As ``JHODDenoiser._told``: the hand token plus an optional input's embedding (config ``flag``)."""
        if not self.config.get(flag, False):
            if value is not None:
                raise ValueError(f"this denoiser was trained without {what}")
            return hand_token
        value = np.zeros((len(hand_token), dim), DTYPE) if value is None else np.asarray(value, DTYPE)
        return hand_token + self._mlp(value, f"{name}_encoder", self.act)

    def forward(self, x, t_hand, t_object, control=None, hand_only: bool = False, surface=None) -> np.ndarray:
        """x (B, 563) model space, t_hand / t_object (B,) integers, ``control`` (B, CONTROL_DIM) or None
        -> predicted x0 (B, 563); ``hand_only``: its object part is x's; ``surface``: surface features (B,
        ``surface_features.DIM``) or None (as ``JHODDenoiser.forward``)."""
        x = np.asarray(x, dtype=DTYPE)
        b = x.shape[0]
        hand, obj = x[:, : -spec.OBJECT_DIM], x[:, -spec.OBJECT_DIM:]
        emb = self.w["token_embedding"]
        hand_token = self._mlp(hand, "hand_encoder", self.act) + self._time(t_hand, "hand_time") + emb[0]
        hand_token = self._told(hand_token, control, "controls", "control", spec.CONTROL_DIM, "controls")
        hand_token = self._told(hand_token, surface, "surface", "surface", surface_features.DIM, "surface features")
        t_object = np.asarray(t_object)
        rows = 1 if b > 1 and (t_object == t_object[0]).all() and (obj == obj[:1]).all() else b  # encoded once
        obj_tokens = (self._mlp(obj[:rows].reshape(rows, spec.OBJECT_TOKENS, spec.CHUNK_DIM), "object_encoder",
                                self.act) + self._time(t_object[:rows], "object_time")[:, None] + emb[1:])
        tokens = np.concatenate([hand_token[:, None], np.broadcast_to(obj_tokens, (b,) + obj_tokens.shape[1:])],
                                axis=1)
        layers = self.config["layers"]
        for i in range(layers):  # hand_only: the last layer computes the hand token's output alone
            tokens = self._encoder_layer(tokens, i, 1 if hand_only and i == layers - 1 else None)
        if self.config["norm_first"]:
            tokens = _layer_norm(tokens, self.w["transformer.norm.weight"], self.w["transformer.norm.bias"])
        out_hand = self._skip(self._mlp(tokens[:, 0], "hand_decoder", self.act), hand, t_hand)
        out_obj = obj if hand_only else self._skip(
            self._mlp(tokens[:, 1:], "object_decoder", self.act).reshape(b, spec.OBJECT_DIM), obj, t_object)
        return np.concatenate([out_hand, out_obj], axis=1)

    def _skip(self, out, x, t):
        """As ``JHODDenoiser._skip``: with ``skip`` in the config, sqrt(abar) x + sqrt(1 - abar) out."""
        if not self.config.get("skip", False):
            return out
        abar = self.alphas_cumprod[np.asarray(t)][:, None]
        return (np.sqrt(abar) * x + np.sqrt(1 - abar) * out).astype(DTYPE)


def _sequential(weights: dict, prefix: str, x: np.ndarray, last_activation: bool) -> np.ndarray:
    """An ``autoencoder.mlp`` (Linear layers with ReLU between them) applied to x (..., in)."""
    indices = sorted(int(k.split(".")[1]) for k in weights if k.startswith(prefix + ".") and k.endswith(".weight"))
    for n, i in enumerate(indices):
        x = x @ weights[f"{prefix}.{i}.weight"].T + weights[f"{prefix}.{i}.bias"]
        if last_activation or n < len(indices) - 1:
            x = np.maximum(x, 0.0)
    return x


def _neighbour_offsets(xyz: np.ndarray, k: int) -> np.ndarray:
    """``autoencoder.neighbour_offsets`` in NumPy: offsets to each point's k nearest other points, nearest first."""
    d = np.linalg.norm(xyz[:, :, None] - xyz[:, None], axis=-1) + np.eye(xyz.shape[1], dtype=xyz.dtype) * 1e9
    idx = np.argsort(d, axis=-1, kind="stable")[..., :k]
    near = np.take_along_axis(xyz[:, None], idx[..., None], axis=2)
    return (near - xyz[:, :, None]).reshape(xyz.shape[0], xyz.shape[1], 3 * k)


class NumpyObjectAutoencoder:
    """``ObjectAutoencoder.encode`` / ``decode`` in NumPy: surface points (B, N, 3) metres <-> raw latents (B, 512)."""

    def __init__(self, path):
        self.config, arrays, _ = read_npz(path)
        self.w = {k: v.astype(DTYPE) for k, v in arrays.items()}

    def encode(self, points) -> np.ndarray:
        x = np.asarray(points, dtype=DTYPE)
        if x.ndim == 2:
            x = x[None]
        f = _sequential(self.w, "stage1", x * self.config["point_scale"], last_activation=True)
        g = np.broadcast_to(f.max(axis=1, keepdims=True), f.shape)
        f = _sequential(self.w, "stage2", np.concatenate([f, g], axis=-1), last_activation=True).max(axis=1)
        return _sequential(self.w, "head", f, last_activation=False)[:, : spec.OBJECT_DIM]

    def decode(self, latent) -> np.ndarray:
        """Raw latents (B, 512) -> points (B, num_points, 3) metres, patch-major (``ObjectAutoencoder.decode``)."""
        latent = np.atleast_2d(np.asarray(latent, dtype=DTYPE))
        b, k, p = latent.shape[0], spec.LATENT_POINTS, self.w["fold_grid"].shape[0]
        lat = latent.reshape(b, k, spec.LATENT_POINT_DIM)
        ctx = np.broadcast_to(_sequential(self.w, "context", latent, last_activation=True)[:, None],
                              (b, k, self.config["context"]))
        parts = [lat, ctx]
        if self.config.get("neighbours", 0):
            parts.append(_neighbour_offsets(lat[..., :3], int(self.config["neighbours"])))
        h = _sequential(self.w, "patch", np.concatenate(parts, axis=-1), last_activation=True)
        grid = self.w["fold_grid"]
        h = np.broadcast_to(h[:, :, None], (b, k, p, h.shape[-1]))
        seeds = np.broadcast_to(grid, (b, k, p, 2))
        offsets = _sequential(self.w, "fold", np.concatenate([h, seeds], axis=-1), last_activation=False)
        return (lat[:, :, None, :3] + offsets).reshape(b, k * p, 3) / self.config["point_scale"]


class NumpyBackend:
    """``pipeline.Backend`` on NumPy: the autoencoder and denoiser ``.npz`` files of one model."""

    def __init__(self, autoencoder_path, denoiser_path):
        self.autoencoder = NumpyObjectAutoencoder(autoencoder_path)
        self.denoiser = NumpyDenoiser(denoiser_path)
        config, w = self.denoiser.config, self.denoiser.w
        self.num_train_steps, self.sync_timesteps = int(config["num_train_steps"]), bool(config["sync_timesteps"])
        self.controls = bool(config.get("controls", False))
        self.surface = bool(config.get("surface", False))
        self.rotation = str(config.get("rotation", "axis_angle"))  # files before model v8 have no such entry
        self.hand_mean, self.hand_std = w["hand_mean"].astype(np.float64), w["hand_std"].astype(np.float64)
        self.object_mean, self.object_std = w["object_mean"].astype(np.float64), w["object_std"].astype(np.float64)

    def encode(self, points):
        return self.autoencoder.encode(points)

    def decode(self, latent):
        return self.autoencoder.decode(latent)

    def denoise(self, x, t_hand, t_object, control=None, hand_only=False, surface=None):
        return self.denoiser.forward(x, t_hand, t_object, control, hand_only, surface)
