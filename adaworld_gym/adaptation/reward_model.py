"""Reward and episode-end model (the paper has none; RL inside the simulator needs one).

From the last memory frame, the (predicted) next frame and the action (as `action_features`: one-hots for
discrete actions, the scaled vector for continuous ones), it predicts whether the step pays a
reward and whether the episode ends. Procgen rewards are sparse, so both heads use class-balanced binary
cross-entropy (positives weighted by negatives/positives). A predicted reward pays `reward_value`, the mean
positive reward of the training transitions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class RewardPrediction:
    reward: torch.Tensor  # (B,) float: reward_value where a reward is predicted, else 0
    terminated: torch.Tensor  # (B,) bool
    reward_logit: torch.Tensor
    end_logit: torch.Tensor


class RewardModel(nn.Module):
    def __init__(self, feature_dim: int, width: int = 32):
        super().__init__()
        self.feature_dim = feature_dim
        self.features = nn.Sequential(
            nn.Conv2d(9, width, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1), nn.SiLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(2 * width + feature_dim, 2 * width), nn.SiLU(), nn.Linear(2 * width, 2))
        self.register_buffer("reward_value", torch.tensor(1.0))

    def logits(self, previous: torch.Tensor, following: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """uint8 frames (B, 3, H, W) and action features (B, feature_dim) -> (B, 2) logits: [reward > 0, episode
        ends]."""
        a, b = previous.float() / 255, following.float() / 255
        feats = self.features(torch.cat([a, b, (b - a) * 4], dim=1))
        return self.head(torch.cat([feats, actions.float().to(feats.device)], dim=1))

    @torch.no_grad()
    def predict(self, previous: torch.Tensor, following: torch.Tensor, actions: torch.Tensor) -> RewardPrediction:
        logits = self.logits(previous, following, actions)
        pays, ends = logits[:, 0] > 0, logits[:, 1] > 0
        return RewardPrediction(pays.float() * self.reward_value, ends, logits[:, 0], logits[:, 1])

    def fit(self, previous: torch.Tensor, following: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor,
            ends: torch.Tensor, steps: int = 400, batch_size: int = 64, lr: float = 1e-3, seed: int = 0) -> None:
        """Class-balanced training on real transitions."""
        targets = torch.stack([(rewards > 0).float(), ends.float()], dim=1)
        positives = targets.sum(0)
        pos_weight = ((len(targets) - positives) / positives.clamp(min=1)).clamp(1.0, 100.0)
        if positives[0] > 0:
            self.reward_value.fill_(float(rewards[rewards > 0].mean()))
        optimizer = torch.optim.AdamW(self.parameters(), lr=lr)
        generator = torch.Generator().manual_seed(seed)
        self.train()
        for _ in range(steps):
            index = torch.randint(0, len(targets), (batch_size,), generator=generator)
            logits = self.logits(previous[index], following[index], actions[index])
            loss = F.binary_cross_entropy_with_logits(logits, targets[index], pos_weight=pos_weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        self.eval()


def precision_recall(predicted: torch.Tensor, actual: torch.Tensor) -> dict[str, float | int | None]:
    """Precision and recall of positive predictions; None where undefined (nothing predicted / no positives)."""
    predicted, actual = predicted.bool(), actual.bool()
    hits, said, real = int((predicted & actual).sum()), int(predicted.sum()), int(actual.sum())
    return {"precision": hits / said if said else None, "recall": hits / real if real else None,
            "positives": real, "predicted_positives": said, "count": len(actual)}
