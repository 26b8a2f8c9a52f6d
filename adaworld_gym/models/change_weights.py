"""Loss weights that favour the pixels that changed between two frames.

At 64x64 a Procgen agent is a ~3-pixel sprite that moves ~1 pixel a step: under a plain mean loss its move is
worth almost nothing next to scrolling backgrounds and enemies, so neither the latent action model nor the
world model learns to draw it. Both can weight up what changed (README: Results).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def change_weights(previous: torch.Tensor, following: torch.Tensor, weight: float,
                   size: int | None = None) -> torch.Tensor:
    """(B, 1, size, size) loss weights from float frames (B, 3, H, W) in [0, 1]: 1 + `weight` where any channel
    differs, scaled to mean 1 per pair so the loss stays on a plain MSE's scale. `size` below H max-pools the
    change mask to a latent grid (a cell counts as changed if any of its pixels did)."""
    changed = (following - previous).abs().amax(dim=1, keepdim=True) > 1.5 / 255
    return mask_weights(changed, weight, size)


def branch_weights(outcomes: torch.Tensor, weight: float, size: int | None = None) -> torch.Tensor:
    """Loss weights for counterfactual branch groups, uint8 outcomes (G, A, 3, H, W) of A actions from one state
    each: 1 + `weight` where any two actions' outcomes differ (what the action, not the game, decided), mean 1 per
    group, repeated for its A members: (G * A, 1, size, size)."""
    differs = (outcomes.int() - outcomes[:, :1].int()).abs().amax(dim=(1, 2))[:, None] > 0  # (G, 1, H, W)
    return mask_weights(differs, weight, size).repeat_interleave(outcomes.shape[1], dim=0)


def mask_weights(mask: torch.Tensor, weight: float, size: int | None = None) -> torch.Tensor:
    """(B, 1, size, size) weights 1 + `weight` where bool `mask` (B, 1, H, W) holds, mean 1 per sample; `size`
    below H max-pools the mask to a latent grid first."""
    mask = mask.float()
    if size is not None:
        mask = F.adaptive_max_pool2d(mask, size)
    weights = 1.0 + weight * mask
    return weights / weights.mean(dim=(2, 3), keepdim=True)
