"""Frame metrics without learned weights: PSNR and SSIM (Wang et al. 2004, 11x11 Gaussian window, sigma 1.5)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike

from adaworld_gym.models.latent_action import frames_to_float


def mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-frame mean squared error of (..., 3, H, W) frames, pixels in [0, 1]."""
    return (frames_to_float(a) - frames_to_float(b)).pow(2).mean(dim=(-3, -2, -1))


def psnr_of_mse(value: float | np.ndarray) -> float | np.ndarray:
    """PSNR in dB of a mean squared error, or of an array of them (pixels in [0, 1]); capped at 100 dB for
    identical frames."""
    db = np.minimum(100.0, -10 * np.log10(np.maximum(value, 1e-10)))
    return float(db) if np.ndim(db) == 0 else db


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-frame SSIM of (..., 3, H, W) frames (mean over channels and positions)."""
    x, y = frames_to_float(a), frames_to_float(b)
    lead = x.shape[:-3]
    x, y = x.reshape(-1, 1, *x.shape[-2:]), y.reshape(-1, 1, *y.shape[-2:])
    coords = torch.arange(11, dtype=torch.float32) - 5
    g = torch.exp(-coords ** 2 / (2 * 1.5 ** 2))
    window = (g[:, None] * g[None, :] / g.sum() ** 2)[None, None].to(x.device)
    blur = lambda t: F.conv2d(t, window)
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    score = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return score.reshape(*lead, -1).mean(dim=-1)


def colour_histogram(frames: torch.Tensor, bins: int = 16) -> torch.Tensor:
    """Normalised per-channel histogram (3 * bins,) of a set of uint8 frames (..., 3, H, W)."""
    channels = frames.transpose(0, -3).reshape(3, -1).long() * bins // 256
    counts = torch.stack([torch.bincount(c, minlength=bins) for c in channels]).float()
    return (counts / counts.sum(dim=1, keepdim=True)).flatten()


def bootstrap_margin_se(lead_mse: ArrayLike, other_mse: ArrayLike, resamples: int = 2000, seed: int = 0) -> float:
    """Standard error of PSNR(mean lead error) - PSNR(mean other error) over the same clips, by resampling the
    clips (paired: both methods were scored on the same ones). Errors of shape (clips,), or (trainings, clips)
    for several trainings of each method scored on the same clips: then the margin is the mean of theirs, and
    each resample picks the same clips for every training."""
    lead, other = np.atleast_2d(np.asarray(lead_mse, dtype=float)), np.atleast_2d(np.asarray(other_mse, dtype=float))
    picks = np.random.default_rng(seed).integers(0, lead.shape[1], (resamples, lead.shape[1]))
    margin = psnr_of_mse(lead[:, picks].mean(axis=2)) - psnr_of_mse(other[:, picks].mean(axis=2))
    return float(np.std(margin.mean(axis=0)))


def paired_mean_margin(lead: list[list[float]], other: list[list[float]]) -> dict[str, float]:
    """Margin of the mean of per-group means (each group, e.g. a game, weighs the same) between two methods
    scored on the same cases, and its standard error from the paired per-case differences."""
    diffs = [np.asarray(a, dtype=float) - np.asarray(b, dtype=float) for a, b in zip(lead, other)]
    variance = sum(d.var(ddof=1) / len(d) for d in diffs) / len(diffs) ** 2
    return {"margin": float(np.mean([d.mean() for d in diffs])), "se": float(np.sqrt(variance))}
