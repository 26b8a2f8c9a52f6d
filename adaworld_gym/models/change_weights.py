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
    changed = ((following - previous).abs().amax(dim=1, keepdim=True) > 1.5 / 255).float()
    if size is not None:
        changed = F.adaptive_max_pool2d(changed, size)
    weights = 1.0 + weight * changed
    return weights / weights.mean(dim=(2, 3), keepdim=True)
