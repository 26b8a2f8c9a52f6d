"""An inverse-dynamics classifier (frame pair -> which of the 4 moves), the judge of action transfer.

Trained here on real transitions from training levels (the paper used FVD and human raters; both need weights or
people we do not have). It scores how often a transferred rollout shows the demonstrated move.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from adaworld_gym.data.policies import UniformRandomPolicy
from adaworld_gym.envs.procgen_batch import ProcgenBatch
from adaworld_gym.envs.procgen_games import TRAIN_LEVELS
from adaworld_gym.models.checkpoint import CONFIG_FILE, check_expected, load_checkpoint, save_checkpoint

CHECKPOINT_KIND = "inverse-dynamics"


class InverseDynamics(nn.Module):
    def __init__(self, num_actions: int = 4, width: int = 32):
        super().__init__()
        self.config = {"num_actions": num_actions, "width": width}
        # Input: f_t, f_t+1 and their difference (9 channels), so a one-pixel move is easy to see.
        self.net = nn.Sequential(
            nn.Conv2d(9, width, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1), nn.SiLU(),
            nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(4 * width, num_actions))

    def forward(self, previous: torch.Tensor, following: torch.Tensor) -> torch.Tensor:
        """uint8 frames (B, 3, H, W) -> action logits (B, num_actions)."""
        a, b = previous.float() / 255, following.float() / 255
        return self.net(torch.cat([a, b, (b - a) * 4], dim=1))

    @torch.no_grad()
    def predict(self, previous: torch.Tensor, following: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        self.eval()
        return torch.cat([self(p, f).argmax(-1) for p, f in zip(previous.split(batch_size),
                                                                   following.split(batch_size))])


def real_move_transitions(game: str, count: int, start_level: int, num_levels: int, seed: int,
                          num_envs: int = 16) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(previous, following, move index 0-3) of `count` real transitions under uniform random moves
    (episode ends left out: Procgen never shows their next frame)."""
    batch = ProcgenBatch(game, num_envs, start_level=start_level, num_levels=num_levels, actions="moves", seed=seed)
    policy = UniformRandomPolicy(4, num_envs, seed)
    before, after, moves = [], [], []
    while sum(len(m) for m in moves) < count:
        obs = batch.obs
        act = policy(obs, np.zeros(num_envs, dtype=bool))
        step = batch.step(act)
        keep = ~(step.terminated | step.truncated)
        before.append(obs[keep]), after.append(step.obs[keep]), moves.append(act[keep])
    to_chw = lambda x: torch.from_numpy(np.concatenate(x)[:count]).permute(0, 3, 1, 2).contiguous()
    return to_chw(before), to_chw(after), torch.from_numpy(np.concatenate(moves)[:count])


# 3000 steps on 20k pairs: against 600 on 6k, the judge reads the held moves of real test levels 44-90% right
# instead of 30-69% (measured on the six transfer games), so a model's transfer has room to show.
def train_inverse_dynamics(game: str, transitions: int = 20000, steps: int = 3000, batch_size: int = 64,
                           seed: int = 0, cache: Path | None = None) -> tuple[InverseDynamics, float]:
    """Fit on training levels; returns the classifier and its accuracy on 1000 held-out training-level pairs.
    With a `cache` folder, a judge of the same settings trained before is loaded from it instead (a judge takes
    about 90 s on 2 CPU cores and every world model benchmark run needs six)."""
    folder, settings = None, {"game": game, "transitions": transitions, "steps": steps, "batch_size": batch_size,
                              "seed": seed}
    if cache is not None:
        folder = Path(cache) / f"judge-{game}-n{transitions}-k{steps}-b{batch_size}-s{seed}"
        if (folder / CONFIG_FILE).is_file():  # written last: a judge whose save was interrupted is trained again
            config, state, metadata = load_checkpoint(folder, CHECKPOINT_KIND)
            check_expected(folder, metadata, settings)
            model = InverseDynamics(**config)
            model.load_state_dict(state)
            return model, metadata["accuracy"]
    torch.manual_seed(seed)
    previous, following, moves = real_move_transitions(game, transitions + 1000, *TRAIN_LEVELS, seed=seed)
    model = InverseDynamics()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        index = torch.randint(0, transitions, (batch_size,), generator=generator)
        loss = F.cross_entropy(model(previous[index], following[index]), moves[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    held_out = model.predict(previous[transitions:], following[transitions:])
    accuracy = float((held_out == moves[transitions:]).float().mean())
    if folder is not None:
        save_checkpoint(folder, CHECKPOINT_KIND, model.config, model.state_dict(), {**settings, "accuracy": accuracy})
    return model, accuracy
