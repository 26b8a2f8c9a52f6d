"""What the world model is conditioned on, read off a transition (last memory frame, next frame).

AdaWorld conditions on the continuous latent action of the frozen latent action model. The baselines of the
paper swap only this: discrete latent actions (the VQ variant of the same model), optical flow (OpenCV dense
flow, no learned weights), or nothing at all (action-agnostic). Each labeller maps uint8 frame pairs to a
(B, dim) float condition.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import torch

from adaworld_gym.models.latent_action import LatentActionModel

CONDITION_KINDS = ("latent_action", "flow", "none")


class Condition(Protocol):
    kind: str
    dim: int

    def __call__(self, previous: torch.Tensor, following: torch.Tensor) -> torch.Tensor:
        """uint8 frames (B, 3, H, W) before and after a transition -> (B, dim) float32."""

    def describe(self) -> dict[str, Any]:
        """What a world model checkpoint records about its condition (and checks when loaded)."""

    def to(self, device: torch.device | str) -> "Condition":
        """Compute labels on `device` from now on (a trainer on a GPU labels there, not on the CPU)."""


class LatentActionCondition:
    """The frozen latent action model's deterministic latent (Gaussian mean, or the VQ code vector)."""

    kind = "latent_action"

    def __init__(self, model: LatentActionModel):
        self.model = model.eval().requires_grad_(False)
        self.dim = model.config.latent_dim

    def __call__(self, previous: torch.Tensor, following: torch.Tensor) -> torch.Tensor:
        return self._latents(previous, following, sample=False)

    def sample(self, previous: torch.Tensor, following: torch.Tensor) -> torch.Tensor:
        """A draw from the posterior (Gaussian models; a VQ model gives its code, as `__call__` does)."""
        return self._latents(previous, following, sample=True)

    @torch.no_grad()
    def _latents(self, previous: torch.Tensor, following: torch.Tensor, sample: bool) -> torch.Tensor:
        pairs = torch.stack([previous, following], dim=1).to(self.model.device)
        drawn, deterministic, _ = self.model.encode_pairs(pairs, sample=sample)
        # A Gaussian model's draw when sampling, else the deterministic latent (its mean, or a VQ code vector).
        return (drawn if sample and self.model.config.quantizer == "gaussian" else deterministic).float()

    def predict(self, previous: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """The latent action model's own next frame (B, 3, H, W) in [0, 1] from uint8 frames and latent actions:
        the world model's next-frame hint. Not under no_grad, so an action table can learn through it."""
        return self.model.decode(previous.to(self.model.device), latent)

    def to(self, device: torch.device | str) -> "LatentActionCondition":
        self.model.to(device)
        return self

    def describe(self) -> dict[str, Any]:
        c = self.model.config
        return {"kind": self.kind, "dim": self.dim, "quantizer": c.quantizer, "resolution": c.resolution,
                "trained_steps": self.model.metadata.get("trained_steps")}


class FlowCondition:
    """Farneback dense optical flow between the two frames, average-pooled to a grid x grid x 2 vector."""

    kind = "flow"

    def __init__(self, grid: int = 8, scale: float = 0.25):
        self.grid, self.scale = grid, scale  # scale: flow in pixels is mostly within +-4; bring it near unit size
        self.dim = 2 * grid * grid

    def __call__(self, previous: torch.Tensor, following: torch.Tensor) -> torch.Tensor:
        rows = []
        for a, b in zip(previous.cpu().numpy(), following.cpu().numpy()):
            gray = [cv2.cvtColor(np.ascontiguousarray(f.transpose(1, 2, 0)), cv2.COLOR_RGB2GRAY) for f in (a, b)]
            flow = cv2.calcOpticalFlowFarneback(gray[0], gray[1], None, 0.5, 2, 9, 3, 5, 1.1, 0)
            pooled = cv2.resize(flow, (self.grid, self.grid), interpolation=cv2.INTER_AREA)
            rows.append(pooled.transpose(2, 0, 1).reshape(-1) * self.scale)
        return torch.from_numpy(np.stack(rows)).float()

    def to(self, device: torch.device | str) -> "FlowCondition":
        return self  # OpenCV runs on the CPU wherever the frames are

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "dim": self.dim, "grid": self.grid, "scale": self.scale}


class NoCondition:
    """Action-agnostic baseline: the model must guess what happens next from the memory alone.

    The condition is all zeros rather than absent, with the width of a latent action: pretraining never
    teaches the denoiser's condition input anything, and adaptation can still feed it an action table (the
    paper's baseline: a fresh action embedding on an action-agnostic model)."""

    kind = "none"

    def __init__(self, dim: int = 32):
        self.dim = dim

    def __call__(self, previous: torch.Tensor, following: torch.Tensor) -> torch.Tensor:
        return torch.zeros(previous.shape[0], self.dim)

    def to(self, device: torch.device | str) -> "NoCondition":
        return self

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "dim": self.dim}


def make_condition(kind: str, latent_action_model: str | Path | LatentActionModel | None = None,
                   resolution: int | None = None, dim: int = 32) -> Condition:
    """A condition by name; `latent_action` needs a latent action model (a folder, or a loaded model); `dim` is
    the width of the action-agnostic zero condition."""
    if kind == "latent_action":
        if latent_action_model is None:
            raise ValueError("condition 'latent_action' needs a latent action model")
        model = latent_action_model if isinstance(latent_action_model, LatentActionModel) else \
            LatentActionModel.from_pretrained(latent_action_model, resolution=resolution)
        return LatentActionCondition(model)
    if kind == "flow":
        return FlowCondition()
    if kind == "none":
        return NoCondition(dim)
    raise ValueError(f"unknown condition {kind!r}; choose one of {CONDITION_KINDS}")
