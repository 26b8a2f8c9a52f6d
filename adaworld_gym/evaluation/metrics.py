"""Frame metrics without learned weights: PSNR and SSIM (Wang et al. 2004, 11x11 Gaussian window, sigma 1.5),
and the counterfactual accuracy of imagined moves (`score_hold`), which world model training scores too."""

from __future__ import annotations

from dataclasses import dataclass

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


def _pixel_mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """MSE over the last three dimensions in 0-255 units, float64."""
    return (a.double() - b.double()).pow(2).mean(dim=(-3, -2, -1))


@dataclass
class HoldScore:
    right: int
    scored: int
    sensitivity: float | None  # mean pairwise MSE of the imagined outcomes across moves (0-255 units); None: no
    # state had all its branches alive

    @property
    def accuracy(self) -> float | None:
        return self.right / self.scored if self.scored else None


def score_hold(imagined: torch.Tensor, real: torch.Tensor, alive: torch.Tensor) -> HoldScore:
    """Counterfactual accuracy and action sensitivity at one horizon: imagined and real (N, A, 3, H, W) uint8 (A
    actions from the same state: the 4 moves in the benchmark), alive (N,) bool (every branch of the state still
    in its episode)."""
    real_gap = _pixel_mse(real[:, :, None], real[:, None])  # (N, A, A)
    off = ~torch.eye(real.shape[1], dtype=torch.bool)
    distinct = torch.where(off, real_gap > 0, torch.ones_like(off)).all(dim=2) & alive[:, None]  # (N, A)
    error = _pixel_mse(imagined[:, :, None], real[:, None])  # (N, m imagined, m' real)
    own = error.diagonal(dim1=1, dim2=2)  # (N, A)
    nearest = torch.where(off, own[:, :, None] < error, torch.ones_like(off)).all(dim=2)
    pairwise = _pixel_mse(imagined[:, :, None], imagined[:, None])[:, off]  # (N, A (A - 1))
    return HoldScore(int((nearest & distinct).sum()), int(distinct.sum()),
                     float(pairwise[alive].mean()) if alive.any() else None)
