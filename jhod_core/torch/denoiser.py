"""`JHODDenoiser`: the MDM-style transformer that predicts the clean hand-object state x0.

Design (why it differs from a literal reading of eq. 7-12): diffusion runs in the *normalised data
space* of ``[hand 51 | object latent 512]`` (``spec`` layout; 54 hand numbers with a 6D wrist rotation,
``hand_state``). Noise is added there; the modality
encoders (2-layer MLPs, hidden 1024) lift the noisy parts to 5 tokens (1 hand + 4 object chunks of
32 latent points); the modality decoders map the output tokens back to x0 in the same space. If
noise were added to the outputs of jointly trained encoders instead (z = E(y), eq. 7), the x0 loss
(eq. 11) could be driven to zero by shrinking E towards a constant: the latent collapses. MDM uses
the same input/output projection design.

Each token also gets the embedding of its own timestep (t_H for the hand token, t_O for the object
tokens; sinusoidal + MLP, as MDM's timestep embedder) and a learned token-type embedding, then a
``nn.TransformerEncoder`` (post-LN, GELU, as MDM) mixes the 5 tokens. The dataset statistics that
define the normalised space are buffers, so they are saved with the weights.

Controls (model v2, ``controls=True``; beyond the paper): a ``spec.CONTROL_DIM`` row (target point, approach
direction, grasp type, each with an "is given" flag; all zeros = nothing asked) goes through an MLP whose last
layer starts at zero and is added to the hand token. Training drops each control at random (condition dropout),
so one network samples with any subset of them and without any (classifier-free guidance mixes the two).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..model import spec
from ..model import hand_state, surface_features
from .weights import WeightsFile


@dataclass
class DenoiserConfig:
    d_model: int = 256
    layers: int = 4
    heads: int = 4
    ff: int = 1024
    dropout: float = 0.1
    activation: str = "gelu"        # "gelu" (exact, MDM) or "relu"
    encoder_hidden: int = 1024      # modality encoder / decoder MLP hidden width (paper: 1024)
    norm_first: bool = False        # False: post-LN as MDM; True adds a final LayerNorm
    num_train_steps: int = spec.NUM_TRAIN_STEPS
    sync_timesteps: bool = False    # trained with t_H = t_O (Table 4 ablation): conditional sampling adapts
    controls: bool = False          # takes a spec.CONTROL_DIM control row (near, approach, grasp type)
    rotation: str = "axis_angle"    # wrist rotation form of the hand state: "axis_angle" (51) or "6d" (54)
    surface: bool = False           # takes surface features (``model.surface_features``) in conditional mode
    skip: bool = False              # x0 = sqrt(abar) x_t + sqrt(1 - abar) F: near-clean inputs pass through


CONFIGS = {
    "default": DenoiserConfig(),
    "cpu": DenoiserConfig(),  # the shipped size: trains on a CPU in hours
    # token width 512 as the paper's z in R^{5x512}; depth, heads and ff as MDM's trans_enc
    "paper": DenoiserConfig(d_model=512, layers=8, heads=4, ff=1024),
}


def split_state(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., hand + 512) -> hand (..., 51 or 54, see ``hand_state``), object latent (..., 512)."""
    return x[..., : -spec.OBJECT_DIM], x[..., -spec.OBJECT_DIM:]


def expand_timesteps(t_hand: torch.Tensor, t_object: torch.Tensor, hand_dim: int = spec.HAND_DIM) -> torch.Tensor:
    """Per-sample (B,) timesteps -> per-element (B, hand_dim + 512), for ``CosineSchedule.q_sample``."""
    return torch.cat([t_hand[:, None].expand(-1, hand_dim), t_object[:, None].expand(-1, spec.OBJECT_DIM)], 1)


def _modality_mlp(d_in: int, hidden: int, d_out: int, activation: str) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), _ACTIVATIONS[activation](), nn.Linear(hidden, d_out))


_ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


class TimestepEmbedder(nn.Module):
    """Integer timestep 0..T -> d-vector: fixed sinusoidal table, then Linear-SiLU-Linear (MDM)."""

    def __init__(self, num_train_steps: int, d_model: int):
        super().__init__()
        table = torch.from_numpy(spec.sinusoidal_table(num_train_steps + 1, d_model))
        self.register_buffer("table", table, persistent=False)
        self.mlp = nn.Sequential(nn.Linear(d_model, d_model), nn.SiLU(), nn.Linear(d_model, d_model))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.table[t.long()])


class JHODDenoiser(WeightsFile, nn.Module):
    config_class = DenoiserConfig

    def __init__(self, config: DenoiserConfig | None = None):
        super().__init__()
        self.config = c = config or DenoiserConfig()
        self.hand_dim = hand_state.hand_dim(c.rotation)
        self.hand_encoder = _modality_mlp(self.hand_dim, c.encoder_hidden, c.d_model, c.activation)
        self.object_encoder = _modality_mlp(spec.CHUNK_DIM, c.encoder_hidden, c.d_model, c.activation)
        self.hand_time = TimestepEmbedder(c.num_train_steps, c.d_model)
        self.object_time = TimestepEmbedder(c.num_train_steps, c.d_model)
        self.token_embedding = nn.Parameter(0.02 * torch.randn(1 + spec.OBJECT_TOKENS, c.d_model))
        layer = nn.TransformerEncoderLayer(c.d_model, c.heads, c.ff, c.dropout, c.activation, batch_first=True,
                                           norm_first=c.norm_first)
        final_norm = nn.LayerNorm(c.d_model) if c.norm_first else None
        self.transformer = nn.TransformerEncoder(layer, c.layers, norm=final_norm, enable_nested_tensor=False)
        if c.controls:
            self.control_encoder = _modality_mlp(spec.CONTROL_DIM, c.d_model, c.d_model, c.activation)
            nn.init.zeros_(self.control_encoder[2].weight)  # starts as a model without controls
            nn.init.zeros_(self.control_encoder[2].bias)
        if c.surface:
            self.surface_encoder = _modality_mlp(surface_features.DIM, c.d_model, c.d_model, c.activation)
            nn.init.zeros_(self.surface_encoder[2].weight)  # starts as a model without them
            nn.init.zeros_(self.surface_encoder[2].bias)
        self.hand_decoder = _modality_mlp(c.d_model, c.encoder_hidden, self.hand_dim, c.activation)
        self.object_decoder = _modality_mlp(c.d_model, c.encoder_hidden, spec.CHUNK_DIM, c.activation)
        if c.skip:
            abar = torch.from_numpy(spec.cosine_alphas_cumprod(c.num_train_steps)).float()
            self.register_buffer("abar", abar, persistent=False)
        for name, dim in (("hand", self.hand_dim), ("object", spec.OBJECT_DIM)):
            self.register_buffer(f"{name}_mean", torch.zeros(dim))
            self.register_buffer(f"{name}_std", torch.ones(dim))

    # ----------------------------------------------------------------- normalised space

    def set_statistics(self, hand_mean, hand_std, object_mean, object_std, min_std: float = 1e-4) -> None:
        """Dataset statistics that define the model space (hand: grasp data, object: autoencoder latents)."""
        for name, value in (("hand_mean", hand_mean), ("object_mean", object_mean)):
            getattr(self, name).copy_(torch.as_tensor(value))
        for name, value in (("hand_std", hand_std), ("object_std", object_std)):
            getattr(self, name).copy_(torch.as_tensor(value).clamp_min(min_std))

    def normalize(self, hand: torch.Tensor | None, obj: torch.Tensor | None) -> tuple:
        """Raw hand state (B, hand_dim: ``hand_state.to_state``) / raw object latents (B, 512) -> model space
        (either may be None)."""
        h = None if hand is None else (hand - self.hand_mean) / self.hand_std
        o = None if obj is None else (obj - self.object_mean) / self.object_std
        return h, o

    def denormalize(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Model-space state (B, hand_dim + 512) -> raw hand state (B, hand_dim), raw object latents (B, 512)."""
        h, o = split_state(x)
        return h * self.hand_std + self.hand_mean, o * self.object_std + self.object_mean

    # ----------------------------------------------------------------- network

    def _told(self, hand_token, value, trained: bool, name: str, dim: int, what: str):
        """The hand token plus an optional input's embedding (``<name>_encoder``; None: zeros, nothing told); a
        model trained without that input refuses one."""
        if not trained:
            if value is not None:
                raise ValueError(f"this denoiser was trained without {what}")
            return hand_token
        if value is None:
            value = hand_token.new_zeros(hand_token.shape[0], dim)
        return hand_token + getattr(self, f"{name}_encoder")(value)

    def forward(self, x: torch.Tensor, t_hand: torch.Tensor, t_object: torch.Tensor,
                freeze_hand: torch.Tensor | None = None, control: torch.Tensor | None = None,
                hand_only: bool = False, surface: torch.Tensor | None = None) -> torch.Tensor:
        """Predict clean x0 (B, 563) from the noisy state x (B, 563; 566 with a 6D wrist) at per-sample levels
        t_hand, t_object (B,).

        ``freeze_hand`` (B,) bool: samples whose hand token is detached, so that they train nothing
        on the hand side (object-only data, eq. 13-14: "the hand part as-is"). ``control`` (B, CONTROL_DIM)
        for a model with controls (None: nothing asked); a model without them refuses one. ``hand_only``: the
        object part of the result is x's, not predicted (conditional sampling throws it away: its decoder and the
        last layer's object outputs are ~20 % of the multiply-adds). ``surface`` (B, ``surface_features.DIM``) for a
        model trained with them (rows of zeros or None: not given).
        """
        b = x.shape[0]
        hand, obj = split_state(x)
        hand_token = self.hand_encoder(hand) + self.hand_time(t_hand) + self.token_embedding[0]
        hand_token = self._told(hand_token, control, self.config.controls, "control", spec.CONTROL_DIM, "controls")
        hand_token = self._told(hand_token, surface, self.config.surface, "surface", surface_features.DIM,
                                "surface features")
        if freeze_hand is not None:
            hand_token = torch.where(freeze_hand[:, None], hand_token.detach(), hand_token)
        # conditional sampling: every row holds the same object at the same level, encoded once (~8 % of the work)
        same = (not torch.is_grad_enabled() and b > 1 and bool((t_object == t_object[0]).all())
                and torch.equal(obj, obj[:1].expand_as(obj)))
        rows = 1 if same else b
        object_tokens = (self.object_encoder(obj[:rows].reshape(rows, spec.OBJECT_TOKENS, spec.CHUNK_DIM))
                         + self.object_time(t_object[:rows])[:, None] + self.token_embedding[1:]).expand(b, -1, -1)
        tokens = torch.cat([hand_token[:, None], object_tokens], dim=1)
        if not hand_only:
            out = self.transformer(tokens)
            return torch.cat([self._skip(self.hand_decoder(out[:, 0]), hand, t_hand),
                              self._skip(self.object_decoder(out[:, 1:]).reshape(b, spec.OBJECT_DIM), obj, t_object)],
                             1)
        for layer in self.transformer.layers[:-1]:
            tokens = layer(tokens)
        hand_out = _hand_output(self.transformer.layers[-1], tokens)  # the object tokens' outputs are not needed
        if self.transformer.norm is not None:
            hand_out = self.transformer.norm(hand_out)
        return torch.cat([self._skip(self.hand_decoder(hand_out[:, 0]), hand, t_hand), obj], 1)

    def _skip(self, out: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x0 from the decoder's output ``out`` and the noisy input ``x`` of one part at levels ``t`` (B,): the
        output itself, or with ``config.skip`` sqrt(abar) x + sqrt(1 - abar) out (v-prediction's x0, Salimans & Ho
        2022). A network predicting x0 directly was worse than its own input at low noise: at t = 10 its hands were
        1.7 cm off the training grasp where x_t / sqrt(abar) was 0.3 cm off (model v11)."""
        if not self.config.skip:
            return out
        abar = self.abar[t.long()][:, None]
        return abar.sqrt() * x + (1 - abar).sqrt() * out


def _hand_output(layer: nn.TransformerEncoderLayer, x: torch.Tensor) -> torch.Tensor:
    """``layer(x)[:, :1]`` computed for the first token alone (its attention still reads every token): the
    last layer's object-token outputs are thrown away in conditional sampling (~13 % of the multiply-adds)."""
    def attend(q, kv):
        return layer.dropout1(layer.self_attn(q, kv, kv, need_weights=False)[0])

    def feed_forward(h):
        return layer.dropout2(layer.linear2(layer.dropout(layer.activation(layer.linear1(h)))))

    if layer.norm_first:
        y = layer.norm1(x)
        h = x[:, :1] + attend(y[:, :1], y)
        return h + feed_forward(layer.norm2(h))
    h = layer.norm1(x[:, :1] + attend(x[:, :1], x))
    return layer.norm2(h + feed_forward(h))
