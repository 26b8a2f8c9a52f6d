"""The latent action autoencoder (AdaWorld section 1): what changed between two frames, as a small vector.

The encoder sees frames f_t and f_t+1 (patches plus one action token per frame) through spatiotemporal
transformer blocks; the action token of f_t+1 becomes a 32-d Gaussian latent action (beta-VAE) or, for the
Genie-style baseline, one of 8 VQ codes. The decoder sees only f_t's patches plus the latent action and
predicts f_t+1, so the latent must carry what f_t cannot tell: mostly, what the agent did.
That is the paper's design (the `gpu` preset). The `cpu` preset swaps in a full-resolution CNN encoder and a
UNet decoder, which at 64x64 are the only ones here that find a ~3-pixel agent (README: Results).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from adaworld_gym.models.change_weights import change_weights
from adaworld_gym.models.checkpoint import check_expected, drop_retired, load_checkpoint, save_checkpoint
from adaworld_gym.models.presets import choose_preset
from adaworld_gym.models.transformer import (SpatialBlock, SpatioTemporalBlock, patchify, sinusoidal_embedding,
                                             unpatchify)

CHECKPOINT_KIND = "latent-action-model"
# Options measured not to help and removed, with the value whose behaviour stayed.
RETIRED_OPTIONS = {"patch_embedding": "linear"}
QUANTIZERS = ("gaussian", "vq")
ENCODERS = ("transformer", "cnn")
DECODERS = ("transformer", "unet")


@dataclass(frozen=True)
class LatentActionConfig:
    resolution: int = 64
    patch_size: int = 8
    width: int = 128
    heads: int = 4
    encoder_depth: int = 4
    decoder_depth: int = 4
    latent_dim: int = 32
    quantizer: str = "gaussian"  # "gaussian" (AdaWorld, beta-VAE) or "vq" (Genie-style discrete baseline)
    num_codes: int = 8  # VQ only
    beta: float = 2e-4  # weight of the KL term, summed over latent dims
    commitment: float = 0.25  # VQ only
    # VQ only: a code whose running share of the training pairs falls below this fraction of the fair share
    # (1 / num_codes) is moved onto a random encoder output of the batch (0: never). Without it every pair
    # ended on one code: the GPU-trained 8-code model of 2026-11-26 gave all Procgen transitions code 7.
    dead_code_threshold: float = 0.1
    # Also embed f_t+1 - f_t into f_t+1's patch tokens. Not in the paper; at our small scale it lets the
    # encoder see motion from the first steps (a toy direction probe learned in <150 steps instead of ~400),
    # before the KL term can collapse an uninformative latent to the prior.
    frame_difference: bool = True
    # Extra weight on the pixels that change between f_t and f_t+1 in the reconstruction loss (each pair's
    # weights are normalised to mean 1). Not in the paper; at 64x64 a Procgen agent's move changes ~10-20 of
    # 4096 pixels, so under a plain mean the bottleneck spends its few nats on scrolling and enemies instead.
    change_weight: float = 0.0
    # Free bits: the KL term of a pair costs nothing below this many nats, so the bottleneck cannot close
    # before the decoder has learned to use the latent (0: the paper's plain KL). Not in the paper.
    kl_floor: float = 0.0
    # "transformer" (the paper: spatiotemporal blocks over both frames' patches) or "cnn" (both frames and their
    # difference stacked as channels, strided convolutions at full resolution, then max and mean over positions).
    # Not in the paper: trained *with* action labels on heist and maze, the cpu-width transformer stayed at
    # chance for 1000 steps while this CNN reached 50% / 69% (benchmarks/lam_encoder_ceiling.py): only the CNN
    # finds a 3-pixel agent.
    encoder: str = "transformer"
    # "transformer" (the paper: spatial blocks over f_t's patches plus the latent) or "unet" (a small diffusers
    # UNet2DModel over f_t's pixels, the latent added to its embedding). Not in the paper; see the README.
    decoder: str = "transformer"
    unet_widths: tuple[int, ...] = (16, 32, 64)  # "unet" decoder only
    # "unet" decoder only: it works on f_t folded into unet_fold x unet_fold pixel blocks (pixel_unshuffle, so
    # nothing is lost) at 1/unet_fold the side, about unet_fold**2 times cheaper. A world model's next-frame hint
    # runs this decoder every step: at batch 64 on 2 CPU cores 248 ms at fold 1, 19 ms at fold 4 (README: Results).
    unet_fold: int = 1
    # Semi-supervised latent actions (LAOM, 2025: with distractors such as Procgen's scrolling backgrounds, a few
    # true labels in latent-action training help several-fold): a linear head on the latent's mean learns the
    # pair's true action where one is known (`train-lam --label-weight`), which pulls the agent's move into the
    # latent. 0: no head, the paper's label-free model. Procgen's 15 combos share one meaning across games.
    action_classes: int = 0

    def __post_init__(self) -> None:
        if self.quantizer not in QUANTIZERS:
            raise ValueError(f"unknown quantizer {self.quantizer!r}; choose one of {QUANTIZERS}")
        if self.encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {self.encoder!r}; choose one of {ENCODERS}")
        if self.decoder not in DECODERS:
            raise ValueError(f"unknown decoder {self.decoder!r}; choose one of {DECODERS}")
        object.__setattr__(self, "unet_widths", tuple(self.unet_widths))  # JSON gives a list
        if self.change_weight < 0 or self.kl_floor < 0:
            raise ValueError(f"change_weight and kl_floor must be >= 0, got {self.change_weight}, {self.kl_floor}")
        if self.resolution % self.patch_size:
            raise ValueError(f"resolution {self.resolution} is not a multiple of patch_size {self.patch_size}")
        if self.unet_fold < 1 or self.resolution % self.unet_fold or (self.unet_fold > 1 and self.decoder != "unet"):
            raise ValueError(f"unet_fold {self.unet_fold} needs the unet decoder and must divide resolution "
                             f"{self.resolution}")


PRESETS: dict[str, LatentActionConfig] = {
    "tiny": LatentActionConfig(width=32, heads=2, encoder_depth=2, decoder_depth=1),
    # Not the paper's transformers: at 64x64 a Procgen agent is ~3 pixels, which only a full-resolution encoder
    # and decoder find, and only with its changed pixels weighted up and a few nats kept free (README: Results).
    "cpu": LatentActionConfig(width=128, heads=4, encoder_depth=3, decoder_depth=3, encoder="cnn", decoder="unet",
                              change_weight=300.0, kl_floor=3.0),
    "gpu": LatentActionConfig(width=256, heads=8, encoder_depth=8, decoder_depth=8),
}


def preset(name: str, **overrides: Any) -> LatentActionConfig:
    return choose_preset(PRESETS, name, overrides)


def frames_to_float(frames: torch.Tensor) -> torch.Tensor:
    """uint8 frames (any leading dims, channels first) to float in [0, 1]; float input is passed through."""
    return frames.float() / 255.0 if frames.dtype == torch.uint8 else frames


@dataclass
class LatentActionOutput:
    prediction: torch.Tensor  # (B, 3, H, W) predicted f_t+1 in [0, 1]
    latent: torch.Tensor  # (B, latent_dim) the latent action the decoder used (sampled, or quantized)
    mean: torch.Tensor  # (B, latent_dim) the deterministic latent action (Gaussian mean or VQ code vector)
    losses: dict[str, torch.Tensor]


class LatentActionModel(nn.Module):
    def __init__(self, config: LatentActionConfig):
        super().__init__()
        self.config = c = config
        patch_dim = c.patch_size * c.patch_size * 3
        num_patches = (c.resolution // c.patch_size) ** 2
        self.register_buffer("positions", sinusoidal_embedding(num_patches, c.width), persistent=False)
        if c.encoder == "transformer":
            # Encoder: both frames' patches plus one learnable action token per frame.
            self.encoder_patches = self._patch_embedding()
            self.difference_patches = self._patch_embedding() if c.frame_difference else None
            self.action_tokens = nn.Parameter(torch.randn(2, 1, c.width) * 0.02)
            self.encoder = nn.ModuleList(SpatioTemporalBlock(c.width, c.heads) for _ in range(c.encoder_depth))
        else:
            self.encoder = PairConvEncoder(c.width, c.patch_size, c.frame_difference)
        self.encoder_norm = nn.LayerNorm(c.width)
        if c.quantizer == "gaussian":
            self.to_latent = nn.Linear(c.width, 2 * c.latent_dim)
            # Start with little sampling noise (std ~0.05): at unit variance the first, weak latents are pure
            # noise to the decoder, which learns to ignore them, and the latent collapses to the prior.
            nn.init.constant_(self.to_latent.bias[c.latent_dim:], -6.0)
        else:
            self.to_latent = nn.Linear(c.width, c.latent_dim)
            self.codebook = nn.Embedding(c.num_codes, c.latent_dim)
            nn.init.uniform_(self.codebook.weight, -1.0 / c.num_codes, 1.0 / c.num_codes)
            # Running share of training pairs per code; zero at the start, so the first batch places every code
            # it does not already use on one of its encoder outputs.
            self.register_buffer("code_usage", torch.zeros(c.num_codes))
        if c.decoder == "transformer":
            # Decoder: f_t's patches, each plus the projected latent action.
            self.decoder_patches = nn.Linear(patch_dim, c.width)
            self.latent_proj = nn.Linear(c.latent_dim, c.width)
            self.decoder = nn.ModuleList(SpatialBlock(c.width, c.heads) for _ in range(c.decoder_depth))
            self.decoder_norm = nn.LayerNorm(c.width)
            self.to_pixels = nn.Linear(c.width, patch_dim)
            out_layer = self.to_pixels
        else:
            from diffusers import UNet2DModel

            depth, channels = len(c.unet_widths), 3 * c.unet_fold ** 2
            self.unet = UNet2DModel(
                sample_size=c.resolution // c.unet_fold, in_channels=channels, out_channels=channels,
                block_out_channels=c.unet_widths,
                layers_per_block=1, down_block_types=("DownBlock2D",) * depth, up_block_types=("UpBlock2D",) * depth,
                norm_num_groups=8, add_attention=False, class_embed_type="identity")
            # The latent action enters where a diffusion UNet's class label would: added to its (fixed) time
            # embedding, which every residual block adds to its features.
            self.latent_proj = nn.Linear(c.latent_dim, c.unet_widths[0] * 4)
            out_layer = self.unet.conv_out
        nn.init.zeros_(out_layer.weight)  # start as "nothing changes": the prediction is f_t
        nn.init.zeros_(out_layer.bias)
        self.action_head = nn.Linear(c.latent_dim, c.action_classes) if c.action_classes else None
        self.metadata: dict[str, Any] = {}  # what a loaded checkpoint says about its training

    def _patch_embedding(self) -> nn.Module:
        c = self.config
        return nn.Linear(c.patch_size * c.patch_size * 3, c.width)

    def _embed(self, frames: torch.Tensor, embedding: nn.Module) -> torch.Tensor:
        """(..., 3, H, W) -> (..., num_patches, width) patch tokens."""
        return embedding(patchify(frames, self.config.patch_size))

    def _check_frames(self, frames: torch.Tensor, frames_dim: int) -> None:
        r = self.config.resolution
        if frames.ndim != frames_dim + 3 or frames.shape[-3:] != (3, r, r):
            raise ValueError(f"expected frames of shape (..., 3, {r}, {r}) with {frames_dim + 3} dims, "
                             f"got {tuple(frames.shape)}")

    def action_features(self, pairs: torch.Tensor) -> torch.Tensor:
        """(B, 2, 3, H, W) in [0, 1] -> (B, width) features the latent action is read from: the action token of
        f_t+1 (transformer encoder) or the pooled convolution features (cnn encoder)."""
        if self.config.encoder == "cnn":
            return self.encoder_norm(self.encoder(pairs))
        tokens = self._embed(pairs, self.encoder_patches) + self.positions
        if self.difference_patches is not None:
            motion = self._embed(pairs[:, 1] - pairs[:, 0], self.difference_patches)
            tokens = torch.stack([tokens[:, 0], tokens[:, 1] + motion], dim=1)
        b = tokens.shape[0]
        x = torch.cat([self.action_tokens.expand(2, 1, -1)[None].expand(b, -1, -1, -1), tokens], dim=2)
        for block in self.encoder:
            x = block(x)
        return self.encoder_norm(x[:, 1, 0])

    def _quantize(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Nearest codebook vector with a straight-through gradient; returns (latent, code vector, VQ loss)."""
        track = self.training and torch.is_grad_enabled() and self.config.dead_code_threshold > 0
        if track:  # before the codebook enters the graph: moved codes must not be ones autograd saved
            self._restart_dead_codes(z.detach())
        codes = torch.cdist(z, self.codebook.weight).argmin(dim=-1)
        q = self.codebook(codes)
        loss = F.mse_loss(q, z.detach()) + self.config.commitment * F.mse_loss(z, q.detach())
        if track:
            share = torch.bincount(codes, minlength=self.config.num_codes).float() / len(codes)
            self.code_usage.mul_(0.99).add_(share, alpha=0.01)
        return z + (q - z).detach(), q, loss

    @torch.no_grad()
    def _restart_dead_codes(self, z: torch.Tensor) -> None:
        """Move the codes whose running share of the pairs fell below the threshold onto encoder outputs."""
        n = self.config.num_codes
        dead = self.code_usage < self.config.dead_code_threshold / n
        if dead.any():
            self.codebook.weight[dead] = z[torch.randint(len(z), (int(dead.sum()),), device=z.device)]
            self.code_usage[dead] = 1.0 / n
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # Ranks restart from their own batches: keep rank 0's codebook everywhere (every rank, every step).
            torch.distributed.broadcast(self.codebook.weight, 0)
            torch.distributed.broadcast(self.code_usage, 0)

    def encode_pairs(self, pairs: torch.Tensor, sample: bool = False) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """Latent actions of frame pairs (B, 2, 3, H, W): (latent used, deterministic latent, loss terms)."""
        self._check_frames(pairs, 2)
        token = self.action_features(frames_to_float(pairs))
        if self.config.quantizer == "gaussian":
            mean, logvar = self.to_latent(token).chunk(2, dim=-1)
            logvar = logvar.clamp(-20.0, 10.0)
            latent = mean + torch.randn_like(mean) * (0.5 * logvar).exp() if sample else mean
            kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1)
            return latent, mean, {"kl": kl.mean(), "kl_penalised": kl.clamp(min=self.config.kl_floor).mean()}
        latent, code, vq_loss = self._quantize(self.to_latent(token))
        return latent, code, {"vq": vq_loss}

    def decode(self, frame: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """Predict f_t+1 (B, 3, H, W) in [0, 1] from f_t (B, 3, H, W) and a latent action (B, latent_dim)."""
        self._check_frames(frame, 1)
        if latent.shape != (frame.shape[0], self.config.latent_dim):
            raise ValueError(f"expected latent actions of shape ({frame.shape[0]}, {self.config.latent_dim}), "
                             f"got {tuple(latent.shape)}")
        frame = frames_to_float(frame)
        # Predict the change from f_t: most pixels do not move, and this starts training from the identity.
        return (frame + self._decode_change(frame, latent)).clamp(0.0, 1.0)

    def _decode_change(self, frame: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        if self.config.decoder == "unet":
            timestep = torch.zeros(frame.shape[0], device=frame.device)
            folded = F.pixel_unshuffle(frame * 2 - 1, self.config.unet_fold)
            change = self.unet(folded, timestep, class_labels=self.latent_proj(latent)).sample
            return F.pixel_shuffle(change, self.config.unet_fold)
        p, r = self.config.patch_size, self.config.resolution
        x = self.decoder_patches(patchify(frame, p)) + self.positions + self.latent_proj(latent)[:, None]
        for block in self.decoder:
            x = block(x)
        return unpatchify(self.to_pixels(self.decoder_norm(x)), p, r, r)

    def forward(self, pairs: torch.Tensor, kl_scale: float = 1.0, encoder_frozen: bool = False,
                actions: torch.Tensor | None = None, label_weight: float = 0.0,
                weights: torch.Tensor | None = None) -> LatentActionOutput:
        """Training pass on (B, 2, 3, H, W) pairs: sampled latent, prediction of f_t+1 and the loss terms.
        `kl_scale` multiplies beta (a warm-up from 0 keeps the latent from collapsing before it is useful).
        `encoder_frozen`: only the decoder learns, from the deterministic latent it is given in use.
        `actions` (B,) int64, -1 where unknown, with `label_weight` > 0: the action head's cross-entropy on the
        labelled pairs joins the loss (a model with `action_classes`). `weights` (B, 1, H, W): per-pixel loss
        weights of mean 1 that replace the change weights (counterfactual branch weights)."""
        with torch.no_grad() if encoder_frozen else contextlib.nullcontext():
            latent, mean, terms = self.encode_pairs(pairs, sample=self.training and not encoder_frozen)
        pairs = frames_to_float(pairs)
        prediction = self.decode(pairs[:, 0], latent)
        error = (prediction - pairs[:, 1]).pow(2)
        mse = error.mean()
        c = self.config.change_weight
        if weights is None and c:
            weights = change_weights(pairs[:, 0], pairs[:, 1], c)
        reconstruction = (error * weights).mean() if weights is not None else mse
        if self.config.quantizer == "gaussian":
            loss = reconstruction + kl_scale * self.config.beta * terms.pop("kl_penalised")
        else:
            loss = reconstruction + terms["vq"]
        if label_weight and actions is not None:
            if self.action_head is None:
                raise ValueError("label_weight needs a model with an action head (action_classes > 0)")
            known = actions >= 0
            if known.any():
                logits = self.action_head(mean[known])
                terms["label_ce"] = F.cross_entropy(logits, actions[known])
                terms["label_accuracy"] = (logits.argmax(dim=-1) == actions[known]).float().mean()
                loss = loss + label_weight * terms["label_ce"]
        return LatentActionOutput(prediction, latent, mean, {"loss": loss, "mse": mse, **terms})

    def decoder_modules(self) -> list[nn.Module]:
        """What turns f_t and a latent action into f_t+1 (`train-lam --decoder-of` fine-tunes these alone)."""
        if self.config.decoder == "unet":
            return [self.unet, self.latent_proj]
        return [self.decoder_patches, self.latent_proj, self.decoder, self.decoder_norm, self.to_pixels]

    @torch.no_grad()
    def encode(self, frames: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Latent actions of videos: (B, T, 3, H, W) frames -> (B, T-1, latent_dim), deterministic."""
        self._check_frames(frames, 2)
        b, t = frames.shape[:2]
        pairs = torch.stack([frames[:, :-1], frames[:, 1:]], dim=2).flatten(0, 1)
        means = [self.encode_pairs(chunk.to(self.device))[1] for chunk in pairs.split(batch_size)]
        return torch.cat(means).reshape(b, t - 1, -1)

    @property
    def device(self) -> torch.device:
        return self.to_latent.weight.device

    def save_pretrained(self, folder: str | Path, metadata: dict[str, Any] | None = None,
                        dtype: torch.dtype | None = torch.float16) -> Path:
        """Write `config.json` + `model.safetensors` (float16 by default: small enough to ship)."""
        meta = {"resolution": self.config.resolution, "latent_dim": self.config.latent_dim,
                "quantizer": self.config.quantizer, **(metadata or {})}
        return save_checkpoint(folder, CHECKPOINT_KIND, asdict(self.config), self.state_dict(), meta, dtype)

    @classmethod
    def from_pretrained(cls, folder: str | Path, *, resolution: int | None = None, latent_dim: int | None = None,
                        quantizer: str | None = None, device: str | torch.device = "cpu") -> "LatentActionModel":
        """Load a checkpoint; any of resolution / latent_dim / quantizer given must match it, or it fails."""
        config, state, metadata = load_checkpoint(folder, CHECKPOINT_KIND)
        config = drop_retired(folder, config, RETIRED_OPTIONS)
        check_expected(folder, metadata, {"resolution": resolution, "latent_dim": latent_dim, "quantizer": quantizer})
        model = cls(LatentActionConfig(**config))
        if model.config.quantizer == "vq" and "code_usage" not in state:  # saved before codes were tracked
            state["code_usage"] = torch.full((model.config.num_codes,), 1.0 / model.config.num_codes)
        model.load_state_dict(state)
        model.metadata = metadata
        return model.to(device).eval()


class PairConvEncoder(nn.Module):
    """The "cnn" encoder: f_t, f_t+1 (and f_t+1 - f_t) as channels of one image, a 3x3 convolution at full
    resolution, stride-2 ones down to 1/`downsample` of it, then the maximum and the mean over positions.
    The maximum lets a small moving sprite anywhere in the frame decide the latent action."""

    def __init__(self, width: int, downsample: int, frame_difference: bool):
        super().__init__()
        halvings = int(math.log2(downsample))
        channels = [9 if frame_difference else 6] + [min(width, 32 * 2**i) for i in range(halvings)] + [width]
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip(channels, channels[1:])):
            layers += [nn.Conv2d(cin, cout, 3, stride=1 if i == 0 else 2, padding=1), nn.GELU()]
        self.convs = nn.Sequential(*layers)
        self.frame_difference = frame_difference
        self.pool = nn.Linear(2 * width, width)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        """(B, 2, 3, H, W) in [0, 1] -> (B, width)."""
        inputs = [pairs[:, 0], pairs[:, 1]] + ([pairs[:, 1] - pairs[:, 0]] if self.frame_difference else [])
        features = self.convs(torch.cat(inputs, dim=1))
        return self.pool(torch.cat([features.amax(dim=(2, 3)), features.mean(dim=(2, 3))], dim=1))


def control_options(latents: np.ndarray | torch.Tensor, k: int, seed: int = 0) -> np.ndarray:
    """K-means centres (k, latent_dim) of a set of latent actions: k discrete controls found without labels."""
    from sklearn.cluster import KMeans

    if not 2 <= k <= 64:
        raise ValueError(f"k must be between 2 and 64, got {k}")
    data = np.asarray(latents.cpu() if isinstance(latents, torch.Tensor) else latents, dtype=np.float64)
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit(data.reshape(-1, data.shape[-1])).cluster_centers_


def compose(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Combine two latent actions (for example right + jump -> jump right) by averaging them."""
    return (first + second) / 2
