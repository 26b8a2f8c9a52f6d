"""From a real action to the world model's condition (a latent action).

Discrete actions: a table with one row per action, each row starting as the *average latent action* of that
action's few-shot transitions (AdaWorld's initialisation; random rows for the action-agnostic comparison).
Continuous actions: a small MLP from the raw action to the latent action, first fitted to the (action, latent)
pairs of the few-shot data.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DiscreteActionMap(nn.Module):
    def __init__(self, num_actions: int, condition_dim: int):
        super().__init__()
        self.num_actions, self.condition_dim = num_actions, condition_dim
        self.table = nn.Embedding(num_actions, condition_dim)
        nn.init.normal_(self.table.weight, std=0.1)

    @torch.no_grad()
    def initialise(self, actions: torch.Tensor, latents: torch.Tensor) -> None:
        """Rows = the mean latent action of each action's transitions (rows of unseen actions stay random)."""
        for a in range(self.num_actions):
            picked = latents[actions == a]
            if len(picked):
                self.table.weight[a] = picked.mean(dim=0)

    def forward(self, actions: torch.Tensor) -> torch.Tensor:
        actions = torch.as_tensor(actions, device=self.table.weight.device).long()
        if actions.numel() and (actions.min() < 0 or actions.max() >= self.num_actions):
            raise ValueError(f"actions must be in [0, {self.num_actions}), got {actions.tolist()}")
        return self.table(actions)


class ContinuousActionMap(nn.Module):
    def __init__(self, action_dim: int, condition_dim: int, hidden: int = 128):
        super().__init__()
        self.action_dim, self.condition_dim = action_dim, condition_dim
        self.net = nn.Sequential(nn.Linear(action_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, condition_dim))

    def initialise(self, actions: torch.Tensor, latents: torch.Tensor, steps: int = 500, lr: float = 3e-3) -> float:
        """Fit the MLP to the (action, latent action) pairs; returns the final mean squared error."""
        optimizer = torch.optim.Adam(self.parameters(), lr=lr)
        for _ in range(steps):
            loss = F.mse_loss(self(actions), latents)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return float(loss)

    def forward(self, actions: torch.Tensor) -> torch.Tensor:
        actions = torch.as_tensor(actions, dtype=torch.float32, device=self.net[0].weight.device)
        if actions.shape[-1] != self.action_dim:
            raise ValueError(f"expected actions with {self.action_dim} values, got shape {tuple(actions.shape)}")
        return self.net(actions)
