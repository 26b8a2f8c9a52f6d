"""Transformer pieces for frame pairs: patching, position embeddings, spatial and spatiotemporal blocks."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def patchify(frames: torch.Tensor, patch: int) -> torch.Tensor:
    """(..., C, H, W) -> (..., H/patch * W/patch, patch * patch * C), patches in row-major order."""
    *lead, c, h, w = frames.shape
    if h % patch or w % patch:
        raise ValueError(f"frame size {h}x{w} is not a multiple of the patch size {patch}")
    x = frames.reshape(*lead, c, h // patch, patch, w // patch, patch)
    x = x.movedim(-5, -1)  # (..., h/p, p, w/p, p, c)
    x = x.transpose(-3, -4)  # (..., h/p, w/p, p, p, c)
    return x.reshape(*lead, (h // patch) * (w // patch), patch * patch * c)


def unpatchify(tokens: torch.Tensor, patch: int, height: int, width: int) -> torch.Tensor:
    """Inverse of `patchify`: (..., N, patch * patch * C) -> (..., C, H, W)."""
    *lead, n, d = tokens.shape
    c = d // (patch * patch)
    x = tokens.reshape(*lead, height // patch, width // patch, patch, patch, c)
    x = x.transpose(-3, -4)  # (..., h/p, p, w/p, p, c)
    x = x.movedim(-1, -5)
    return x.reshape(*lead, c, height, width)


def sinusoidal_embedding(positions: int, dim: int) -> torch.Tensor:
    """Fixed (positions, dim) sine/cosine table, as in "Attention is all you need"."""
    pos = torch.arange(positions, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(positions, dim)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return table


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


def rotary(q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotary position embedding over the sequence axis (-2) of (..., heads, seq, head_dim) queries and keys."""
    seq, dim = q.shape[-2], q.shape[-1]
    inv_freq = 1.0 / (10000 ** (torch.arange(0, dim, 2, device=q.device, dtype=torch.float32) / dim))
    angles = torch.arange(seq, device=q.device, dtype=torch.float32)[:, None] * inv_freq[None]
    cos = torch.cat((angles, angles), dim=-1).cos().to(q.dtype)
    sin = torch.cat((angles, angles), dim=-1).sin().to(q.dtype)
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


class Attention(nn.Module):
    """Multi-head self-attention over the second-to-last axis, optionally with rotary positions."""

    def __init__(self, dim: int, heads: int, use_rotary: bool = False):
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by {heads} heads")
        self.heads, self.use_rotary = heads, use_rotary
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *lead, seq, dim = x.shape
        q, k, v = self.qkv(x).reshape(*lead, seq, 3, self.heads, dim // self.heads).movedim(-3, 0).transpose(-2, -3)
        if self.use_rotary:
            q, k = rotary(q, k)
        y = F.scaled_dot_product_attention(q, k, v)
        return self.out(y.transpose(-2, -3).reshape(*lead, seq, dim))


class MLP(nn.Sequential):
    def __init__(self, dim: int, ratio: int = 4):
        super().__init__(nn.Linear(dim, ratio * dim), nn.GELU(), nn.Linear(ratio * dim, dim))


class SpatialBlock(nn.Module):
    """Pre-norm transformer block over the tokens of one frame: (B, N, D) -> (B, N, D)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), Attention(dim, heads)
        self.norm2, self.mlp = nn.LayerNorm(dim), MLP(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class SpatioTemporalBlock(nn.Module):
    """Genie-style block on (B, T, N, D): attention within each frame, then across frames at each token
    position (with rotary time positions), then an MLP."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm_s, self.spatial = nn.LayerNorm(dim), Attention(dim, heads)
        self.norm_t, self.temporal = nn.LayerNorm(dim), Attention(dim, heads, use_rotary=True)
        self.norm_m, self.mlp = nn.LayerNorm(dim), MLP(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.spatial(self.norm_s(x))
        xt = x.transpose(1, 2)  # (B, N, T, D): attend over time at each position
        x = (xt + self.temporal(self.norm_t(xt))).transpose(1, 2)
        return x + self.mlp(self.norm_m(x))
