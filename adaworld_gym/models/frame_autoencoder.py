"""A small convolutional frame autoencoder: the world model diffuses in its 16x16 latent space, not in pixels.

Why latent space: on 2 CPU cores a diffusers UNet at 64x64 pixels cost 1.5 s per denoising step for a batch of
64 even at 1M parameters, while the same family at 16x16 latents costs ~40 ms (README, "Pixels or latents").
Why hand-written: diffusers' AutoencoderTiny needs one width at every resolution and AutoencoderKL's GroupNorm
ResNet decoder took 180-300 ms per 64 frames here; this decoder tapers to 16 channels at full resolution and
decodes 64 frames in a fraction of that, which the simulator pays once per step.

Latents are normalised to zero mean and unit variance per channel (running statistics kept in buffers), so
the diffusion model sees data of a known scale whatever the autoencoder learned.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from adaworld_gym.models.checkpoint import check_expected, load_checkpoint, save_checkpoint
from adaworld_gym.models.presets import choose_preset
from adaworld_gym.models.latent_action import frames_to_float

CHECKPOINT_KIND = "frame-autoencoder"


@dataclass(frozen=True)
class FrameAutoencoderConfig:
    resolution: int = 64
    latent_channels: int = 8
    widths: tuple[int, ...] = (16, 32, 64)  # at full resolution, then each halving; latent at the last one
    bottleneck_blocks: int = 2  # residual blocks at the latent resolution, on each side
    # The decoder trains on slightly noisy latents: the diffusion model's outputs are never exactly on the
    # encoder's manifold, and a decoder that saw only clean latents turns small errors into artefacts.
    latent_noise: float = 0.1
    l1_weight: float = 1.0  # L1 besides MSE keeps small sprites sharp
    # Lossless instead of learned: each f x f block of pixels (f = resolution / latent_size) folded onto the
    # channels of one latent cell (`pixel_unshuffle`), no weights. A world model on it diffuses in pixels at the
    # cost of a 16x16 network, and nothing is lost on the way to the screen (the learned one caps frames at
    # 26-30 dB where repeating the last frame scores 40 dB one step ahead).
    fold: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(self.widths))
        if self.resolution % 2 ** (len(self.widths) - 1):
            raise ValueError(f"resolution {self.resolution} does not halve {len(self.widths) - 1} times")
        if self.fold:
            object.__setattr__(self, "latent_channels", 3 * (self.resolution // self.latent_size) ** 2)

    @property
    def fold_factor(self) -> int:
        return self.resolution // self.latent_size

    @property
    def latent_size(self) -> int:
        return self.resolution // 2 ** (len(self.widths) - 1)


PRESETS: dict[str, FrameAutoencoderConfig] = {
    "tiny": FrameAutoencoderConfig(widths=(8, 16, 16), bottleneck_blocks=1),
    "cpu": FrameAutoencoderConfig(),
    "gpu": FrameAutoencoderConfig(widths=(32, 64, 128), bottleneck_blocks=3),
    "fold": FrameAutoencoderConfig(fold=True),
}


def preset(name: str, **overrides: Any) -> FrameAutoencoderConfig:
    return choose_preset(PRESETS, name, overrides)


class ResidualBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


def _encoder(c: FrameAutoencoderConfig) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(3, c.widths[0], 3, padding=1), nn.SiLU()]
    for before, after in zip(c.widths, c.widths[1:]):
        layers += [nn.Conv2d(before, after, 3, stride=2, padding=1), nn.SiLU(), nn.Conv2d(after, after, 3, padding=1)]
    layers += [ResidualBlock(c.widths[-1]) for _ in range(c.bottleneck_blocks)]
    layers += [nn.SiLU(), nn.Conv2d(c.widths[-1], c.latent_channels, 3, padding=1)]
    return nn.Sequential(*layers)


def _decoder(c: FrameAutoencoderConfig) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(c.latent_channels, c.widths[-1], 3, padding=1)]
    layers += [ResidualBlock(c.widths[-1]) for _ in range(c.bottleneck_blocks)]
    # Transposed convolutions upsample in one op, and only the 2x-down level gets an extra conv: at full
    # resolution every op is memory-bound on a CPU and the decoder runs once per simulator step.
    for level, (before, after) in enumerate(zip(c.widths[::-1], c.widths[-2::-1])):
        layers += [nn.SiLU(), nn.ConvTranspose2d(before, after, 4, stride=2, padding=1)]
        if level < len(c.widths) - 2:
            layers += [nn.SiLU(), nn.Conv2d(after, after, 3, padding=1)]
    layers += [nn.SiLU(), nn.Conv2d(c.widths[0], 3, 3, padding=1)]
    return nn.Sequential(*layers)


class FrameAutoencoder(nn.Module):
    """uint8 or [0, 1] frames (..., 3, H, W) <-> normalised latents (..., C, H/4, W/4)."""

    def __init__(self, config: FrameAutoencoderConfig):
        super().__init__()
        self.config = config
        if config.fold:
            self.encoder: nn.Module = nn.PixelUnshuffle(config.fold_factor)
            self.decoder: nn.Module = nn.PixelShuffle(config.fold_factor)
        else:
            self.encoder, self.decoder = _encoder(config), _decoder(config)
        self.register_buffer("latent_mean", torch.zeros(config.latent_channels))
        self.register_buffer("latent_std", torch.ones(config.latent_channels))
        self.metadata: dict[str, Any] = {}

    def _check(self, frames: torch.Tensor) -> None:
        r = self.config.resolution
        if frames.ndim < 4 or frames.shape[-3:] != (3, r, r):
            raise ValueError(f"expected frames of shape (..., 3, {r}, {r}), got {tuple(frames.shape)}")

    def _raw_latents(self, frames: torch.Tensor) -> torch.Tensor:
        self._check(frames)
        lead = frames.shape[:-3]
        z = self.encoder(frames_to_float(frames).reshape(-1, *frames.shape[-3:]) * 2 - 1)
        return z.reshape(*lead, *z.shape[1:])

    def _scale(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.latent_mean.view(-1, 1, 1), self.latent_std.view(-1, 1, 1)

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        mean, std = self._scale()
        return (self._raw_latents(frames) - mean) / std

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents (..., C, h, w) -> frames in [0, 1] (clamped)."""
        mean, std = self._scale()
        lead = latents.shape[:-3]
        x = self.decoder((latents * std + mean).reshape(-1, *latents.shape[-3:]))
        return ((x + 1) / 2).clamp(0, 1).reshape(*lead, *x.shape[1:])

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Reconstruct frames; returns (reconstruction in [0, 1], losses). Updates the latent statistics."""
        target = frames_to_float(frames).reshape(-1, *frames.shape[-3:]) * 2 - 1
        z = self._raw_latents(frames).reshape(target.shape[0], self.config.latent_channels, -1)
        if self.training:
            with torch.no_grad():  # running statistics, as BatchNorm keeps them, but outside the gradient
                self.latent_mean.lerp_(z.mean(dim=(0, 2)), 0.01)
                self.latent_std.lerp_(z.std(dim=(0, 2)) + 1e-4, 0.01)
        z = z.reshape(target.shape[0], self.config.latent_channels, self.config.latent_size, -1)
        noisy = z + self.config.latent_noise * self.latent_std.view(-1, 1, 1) * torch.randn_like(z)
        x = self.decoder(noisy if self.training else z)
        mse = F.mse_loss(x, target)
        l1 = F.l1_loss(x, target)
        # A tiny pull towards zero keeps the latent scale from drifting (the statistics normalise it anyway).
        loss = mse + self.config.l1_weight * l1 + 1e-4 * z.pow(2).mean()
        # PSNR is reported in [0, 1] units: mse in [-1, 1] units is 4x larger.
        return ((x + 1) / 2).clamp(0, 1), {"loss": loss, "mse": mse / 4, "l1": l1 / 2}

    @property
    def device(self) -> torch.device:
        return self.latent_mean.device

    def save_pretrained(self, folder: str | Path, metadata: dict[str, Any] | None = None,
                        dtype: torch.dtype | None = torch.float16) -> Path:
        meta = {"resolution": self.config.resolution, "latent_channels": self.config.latent_channels,
                **(metadata or {})}
        return save_checkpoint(folder, CHECKPOINT_KIND, asdict(self.config), self.state_dict(), meta, dtype)

    @classmethod
    def from_pretrained(cls, folder: str | Path, *, resolution: int | None = None,
                        device: str | torch.device = "cpu") -> "FrameAutoencoder":
        config, state, metadata = load_checkpoint(folder, CHECKPOINT_KIND)
        check_expected(folder, metadata, {"resolution": resolution})
        model = cls(FrameAutoencoderConfig(**config))
        model.load_state_dict(state)
        model.metadata = metadata
        return model.to(device).eval()
