"""From a real action to the world model's condition (a latent action), for any supported Gymnasium action space.

- `Discrete(n)`: a table with one row per action, each row starting as the *average latent action* of that
  action's few-shot transitions (AdaWorld's initialisation; random rows for the action-agnostic comparison).
- `MultiDiscrete(nvec)`: one such table per dimension; an action's latent is the average of its dimensions' rows
  (AdaWorld composes latent actions by averaging), so the table grows with sum(nvec), not prod(nvec).
- `MultiBinary(n)`: a latent for all buttons released plus one contribution per button, added for each button
  pressed; fitted by least squares, so with one button pressed at a time (as `adapt --env` collects) the
  released latent and each button's are the average latent actions of those transitions, as for `Discrete`.
- `Box`: a small MLP from the raw (flattened) action to the latent action, first fitted to the (action, latent)
  pairs of the few-shot data.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from adaworld_gym.data.policies import bounded_box

SUPPORTED_ACTION_SPACES = (gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary, gym.spaces.Box)


def check_action_space(space: gym.Space) -> None:
    if not isinstance(space, SUPPORTED_ACTION_SPACES) or (
            isinstance(space, (gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)) and len(space.shape) != 1):
        raise ValueError(f"action space {space} is not supported: adaptation handles Discrete, MultiDiscrete "
                         "(one-dimensional nvec), MultiBinary (one-dimensional n) and Box action spaces")


def space_to_spec(space: gym.Space) -> dict[str, Any]:
    """A JSON description of an action space, stored in adapter checkpoints."""
    check_action_space(space)
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gym.spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": space.nvec.tolist(), "start": space.start.tolist()}
    if isinstance(space, gym.spaces.MultiBinary):
        return {"type": "MultiBinary", "n": int(space.shape[0])}
    return {"type": "Box", "low": space.low.tolist(), "high": space.high.tolist(), "shape": list(space.shape),
            "dtype": str(space.dtype)}


def space_from_spec(spec: dict[str, Any]) -> gym.Space:
    if spec["type"] == "Discrete":
        return gym.spaces.Discrete(spec["n"], start=spec.get("start", 0))
    if spec["type"] == "MultiDiscrete":
        return gym.spaces.MultiDiscrete(spec["nvec"], start=spec.get("start"))
    if spec["type"] == "MultiBinary":
        return gym.spaces.MultiBinary(spec["n"])
    if spec["type"] == "Box":
        dtype = np.dtype(spec["dtype"])
        return gym.spaces.Box(np.array(spec["low"], dtype=dtype), np.array(spec["high"], dtype=dtype),
                              tuple(spec["shape"]), dtype=dtype)
    raise ValueError(f"unknown action space type {spec['type']!r}")


def actions_to_tensor(space: gym.Space, actions: Any) -> torch.Tensor:
    """Actions of a batch in the space's own form -> (B,) int64 for Discrete (counted from 0), (B, D) int64 for
    MultiDiscrete (counted from 0) and MultiBinary (0 released, 1 pressed), (B, D) float32 in [-1, 1] for Box
    (scaled by the space's bounds)."""
    actions = np.asarray(actions)
    if isinstance(space, gym.spaces.Discrete):
        return torch.from_numpy(actions.astype(np.int64).reshape(-1) - int(space.start))
    if isinstance(space, gym.spaces.MultiDiscrete):
        return torch.from_numpy(actions.astype(np.int64).reshape(-1, len(space.nvec)) - space.start)
    if isinstance(space, gym.spaces.MultiBinary):
        return torch.from_numpy(actions.astype(np.int64).reshape(-1, space.shape[0]))
    low, high = bounded_box(space.low.reshape(-1), space.high.reshape(-1))
    flat = actions.astype(np.float32).reshape(-1, low.size)
    return torch.from_numpy((2 * (flat - low) / np.maximum(high - low, 1e-8) - 1).astype(np.float32))


def action_features(space: gym.Space, actions: torch.Tensor) -> torch.Tensor:
    """What the reward model is told about the action: one-hots (Discrete, MultiDiscrete per dimension, joined),
    the MultiBinary buttons as 0/1, or the scaled Box action itself. Input: `actions_to_tensor` output."""
    if isinstance(space, gym.spaces.Discrete):
        return F.one_hot(actions.long(), int(space.n)).float()
    if isinstance(space, gym.spaces.MultiDiscrete):
        return torch.cat([F.one_hot(actions[:, d].long(), int(n)).float() for d, n in enumerate(space.nvec)], dim=1)
    return actions.float()


def feature_width(space: gym.Space) -> int:
    if isinstance(space, gym.spaces.Discrete):
        return int(space.n)
    if isinstance(space, gym.spaces.MultiDiscrete):
        return int(space.nvec.sum())
    return int(np.prod(space.shape))


class DiscreteActionMap(nn.Module):
    def __init__(self, num_actions: int, condition_dim: int):
        super().__init__()
        self.num_actions, self.condition_dim = num_actions, condition_dim
        self.table = nn.Embedding(num_actions, condition_dim)
        nn.init.normal_(self.table.weight, std=0.1)

    @torch.no_grad()
    def initialise(self, actions: torch.Tensor, latents: torch.Tensor) -> None:
        """Rows = the mean latent action of each action's transitions (rows of unseen actions stay random)."""
        actions = actions.to(latents.device)
        for a in range(self.num_actions):
            picked = latents[actions == a]
            if len(picked):
                self.table.weight[a] = picked.mean(dim=0)

    def forward(self, actions: torch.Tensor) -> torch.Tensor:
        actions = torch.as_tensor(actions, device=self.table.weight.device).long()
        if actions.numel() and (actions.min() < 0 or actions.max() >= self.num_actions):
            raise ValueError(f"actions must be in [0, {self.num_actions}), got {actions.tolist()}")
        return self.table(actions)


class MultiDiscreteActionMap(nn.Module):
    def __init__(self, nvec: list[int], condition_dim: int):
        super().__init__()
        self.nvec, self.condition_dim = [int(n) for n in nvec], condition_dim
        self.tables = nn.ModuleList(DiscreteActionMap(n, condition_dim) for n in self.nvec)

    @torch.no_grad()
    def initialise(self, actions: torch.Tensor, latents: torch.Tensor) -> None:
        """Row v of dimension d = the mean latent action of the transitions whose d-th action was v."""
        for d, table in enumerate(self.tables):
            table.initialise(actions[:, d], latents)

    def forward(self, actions: torch.Tensor) -> torch.Tensor:
        actions = torch.as_tensor(actions)
        if actions.ndim != 2 or actions.shape[1] != len(self.nvec):
            raise ValueError(f"expected actions of shape (B, {len(self.nvec)}), got {tuple(actions.shape)}")
        return torch.stack([table(actions[:, d]) for d, table in enumerate(self.tables)]).mean(dim=0)


class MultiBinaryActionMap(nn.Module):
    """Buttons -> the released latent plus the contribution of each button pressed. Added, not averaged as for
    MultiDiscrete: a dimension always holds some value, a button does nothing until pressed, and an average
    over many buttons would shrink one press to 1/n of its effect."""

    def __init__(self, num_buttons: int, condition_dim: int):
        super().__init__()
        self.num_buttons, self.condition_dim = num_buttons, condition_dim
        self.released = nn.Parameter(0.1 * torch.randn(condition_dim))
        self.buttons = nn.Parameter(0.1 * torch.randn(num_buttons, condition_dim))

    @torch.no_grad()
    def initialise(self, actions: torch.Tensor, latents: torch.Tensor) -> None:
        """Least squares of the latents on [1, buttons]; the pseudo-inverse's minimum-norm solution gives a
        button never pressed no contribution."""
        design = torch.cat([torch.ones(len(actions), 1, device=latents.device),
                            actions.to(latents.device).float()], dim=1)
        solved = torch.linalg.pinv(design) @ latents.float()
        self.released.copy_(solved[0]), self.buttons.copy_(solved[1:])

    def forward(self, actions: torch.Tensor) -> torch.Tensor:
        actions = torch.as_tensor(actions, device=self.buttons.device)
        if actions.ndim != 2 or actions.shape[1] != self.num_buttons or \
                (actions.numel() and not ((actions == 0) | (actions == 1)).all()):
            raise ValueError(f"expected 0/1 actions of shape (B, {self.num_buttons}), got {actions.tolist()}")
        return self.released + actions.float() @ self.buttons


class ContinuousActionMap(nn.Module):
    def __init__(self, action_dim: int, condition_dim: int, hidden: int = 128):
        super().__init__()
        self.action_dim, self.condition_dim = action_dim, condition_dim
        self.net = nn.Sequential(nn.Linear(action_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, condition_dim))

    def initialise(self, actions: torch.Tensor, latents: torch.Tensor, steps: int = 500, lr: float = 3e-3) -> float:
        """Fit the MLP to the (action, latent action) pairs; returns the final mean squared error."""
        optimizer = torch.optim.Adam(self.parameters(), lr=lr)
        actions, latents = actions.to(latents.device).float(), latents.detach()
        with torch.enable_grad():
            for _ in range(steps):
                loss = F.mse_loss(self(actions), latents)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return float(loss.detach())

    def forward(self, actions: torch.Tensor) -> torch.Tensor:
        actions = torch.as_tensor(actions, dtype=torch.float32, device=self.net[0].weight.device)
        if actions.ndim != 2 or actions.shape[-1] != self.action_dim:
            raise ValueError(f"expected actions of shape (B, {self.action_dim}), got {tuple(actions.shape)}")
        return self.net(actions)


ActionMap = DiscreteActionMap | MultiDiscreteActionMap | MultiBinaryActionMap | ContinuousActionMap


def make_action_map(space: gym.Space, condition_dim: int) -> ActionMap:
    check_action_space(space)
    if isinstance(space, gym.spaces.Discrete):
        return DiscreteActionMap(int(space.n), condition_dim)
    if isinstance(space, gym.spaces.MultiDiscrete):
        return MultiDiscreteActionMap(space.nvec.tolist(), condition_dim)
    if isinstance(space, gym.spaces.MultiBinary):
        return MultiBinaryActionMap(int(space.shape[0]), condition_dim)
    return ContinuousActionMap(int(np.prod(space.shape)), condition_dim)
