"""Does the simulator do what the action says? Counterfactual moves from real states of Procgen test levels.

For each game, `states` test levels are played for `memory - 1` random moves; the game is saved there and each of the
four moves (LEFT, DOWN, UP, RIGHT) is held for up to `hold` steps from the same saved state (exact counterfactuals:
what each move really does from here). Every stage of the chain is then asked the same question from the same
K context frames, with the same sampler noise for all four moves:

- `real`: the game itself (100% by construction: the reference);
- `lam decoder`: the latent action model's own decoder, given the true latent of each real transition, chained
  on its own frames (does the latent carry the move?);
- `world model`: the world model given those true latents (does the condition reach the pixels?);
- `simulator`: the adapted simulator given the action (the action map's condition; what `env.step` runs).

Scores per horizon H (held H steps):
- counterfactual accuracy: a (state, move) is right when the imagined frame is nearer (MSE) to that move's real
  frame than to each other move's; scored only where the move's real frame differs from every other move's and
  no branch of the state ended its episode by then (the count scored is reported);
- action sensitivity: mean pairwise MSE between the four imagined frames (0-255 pixel units), next to the real
  game's.

Open-loop rollouts (`open_loop`): clips of held-random play on test levels, the simulator driven by the clip's
real actions, by the previous clip's actions of the same game (shuffled), and the baseline that repeats the last real
frame, PSNR/SSIM at 1, 5, 10, 20 steps.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from adaworld_gym.adaptation.simulator import AdaptedSimulator
from adaworld_gym.data.branches import MOVES, Branches
from adaworld_gym.evaluation.metrics import mse, psnr_of_mse, score_hold, ssim
from adaworld_gym.models.diffusion.sampler import SamplerConfig
from adaworld_gym.models.latent_action import LatentActionModel
from adaworld_gym.models.world_model import WorldModel, to_uint8

GAMES = ("maze", "heist", "jumper", "caveflyer", "coinrun", "bigfish", "starpilot", "chaser", "climber", "miner")
HOLDS = (1, 3, 8)
OPEN_LOOP_HORIZONS = (1, 5, 10, 20)


# A predictor imagines, from the branches' contexts, the frames of every move held `hold` steps:
# (N, 4, hold, 3, H, W) uint8, the same layout as `Branches.outcomes`.
Predictor = Callable[[Branches], torch.Tensor]


def _true_transitions(branches: Branches) -> torch.Tensor:
    """Each move's real frames with the last context frame in front: (N, 4, hold + 1, 3, H, W)."""
    last = branches.context[:, None, -1:].expand(-1, len(MOVES), -1, -1, -1, -1)
    return torch.cat([last, branches.outcomes], dim=2)


def lam_decoder_predictor(lam: LatentActionModel) -> Predictor:
    """The latent action model's decoder given the true latent of every real transition, on its own frames."""
    @torch.no_grad()
    def predict(branches: Branches) -> torch.Tensor:
        real = _true_transitions(branches).flatten(0, 1)  # (N*4, hold+1, ...)
        latents = lam.encode(real.to(lam.device))  # (N*4, hold, D)
        frame, out = real[:, 0].to(lam.device), []
        for t in range(latents.shape[1]):
            frame = to_uint8(lam.decode(frame, latents[:, t]))
            out.append(frame.cpu())
        return torch.stack(out, dim=1).unflatten(0, (-1, len(MOVES)))
    return predict


def rollout_moves(world: WorldModel, branches: Branches, conditions: torch.Tensor, sampler: SamplerConfig | None,
                   seed: int) -> torch.Tensor:
    """Roll out every state's four moves (conditions (N, 4, hold, D)) with the same noise for each move."""
    out = []
    for move in range(len(MOVES)):
        out.append(world.rollout(branches.context, conditions[:, move], sampler, seed=seed).cpu())
    return torch.stack(out, dim=1)


def world_model_predictor(world: WorldModel, seed: int = 0, sampler: SamplerConfig | None = None) -> Predictor:
    """The world model conditioned on the true condition (latent action) of every real transition."""
    def predict(branches: Branches) -> torch.Tensor:
        real = _true_transitions(branches)
        conditions = world.label(real.flatten(0, 1)).unflatten(0, (-1, len(MOVES)))
        return rollout_moves(world, branches, conditions, sampler, seed)
    return predict


def simulator_predictor(simulator: AdaptedSimulator, seed: int = 0, sampler: SamplerConfig | None = None) -> Predictor:
    """The adapted simulator given the move (its action map's condition), what `env.step` runs. The adapter must
    be for the "moves" subset."""
    if simulator.combos is None or simulator.num_actions != len(MOVES) or simulator.action_names != MOVES:
        raise ValueError(f"the controllability benchmark needs an adapter for the 'moves' subset {MOVES}, got "
                         f"{getattr(simulator, 'combos', None)}")

    def predict(branches: Branches) -> torch.Tensor:
        n, hold = branches.context.shape[0], branches.outcomes.shape[2]
        rows = simulator.conditions(np.arange(len(MOVES)))  # (4, D)
        conditions = rows[None, :, None].expand(n, -1, hold, -1)
        return rollout_moves(simulator.world, branches, conditions, sampler, seed)
    return predict


def real_predictor(branches: Branches) -> torch.Tensor:
    return branches.outcomes


def controllability(branches: Branches, imagined: torch.Tensor, holds: tuple[int, ...] = HOLDS) -> dict[str, dict]:
    """Per hold length: right, scored, accuracy, sensitivity; `imagined` (N, 4, hold, 3, H, W) uint8."""
    scores = {}
    for h in holds:
        s = score_hold(imagined[:, :, h - 1], branches.outcomes[:, :, h - 1], branches.alive[:, h - 1])
        scores[str(h)] = {"right": s.right, "scored": s.scored, "accuracy": s.accuracy,
                          "sensitivity": s.sensitivity}
    return scores


def pooled(per_game: dict[str, dict[str, dict]]) -> dict[str, dict]:
    """Counts summed over games (accuracy of the pooled counts) and the mean of the per-game accuracies."""
    out = {}
    for h in next(iter(per_game.values())):
        right = sum(g[h]["right"] for g in per_game.values())
        scored = sum(g[h]["scored"] for g in per_game.values())
        accuracies = [g[h]["accuracy"] for g in per_game.values() if g[h]["accuracy"] is not None]
        sensitivities = [g[h]["sensitivity"] for g in per_game.values() if g[h]["sensitivity"] is not None]
        out[h] = {"right": right, "scored": scored, "accuracy": right / scored if scored else None,
                  "mean_accuracy": float(np.mean(accuracies)) if accuracies else None,
                  "min_accuracy": float(np.min(accuracies)) if accuracies else None,
                  "sensitivity": float(np.mean(sensitivities)) if sensitivities else None}
    return out


def contact_rows(branches: Branches, imagined: torch.Tensor, hold: int, rows: int) -> np.ndarray:
    """`rows` states as (rows, 9, H, W, 3): the last context frame, the 4 real outcomes, the 4 imagined ones."""
    picks = []
    for i in range(min(rows, branches.context.shape[0])):
        picks.append(torch.cat([branches.context[i, -1:], branches.outcomes[i, :, hold - 1],
                                imagined[i, :, hold - 1]]))
    return torch.stack(picks).permute(0, 1, 3, 4, 2).numpy()


def open_loop(clips: torch.Tensor, actions: torch.Tensor, simulator: AdaptedSimulator, memory: int,
              horizons: tuple[int, ...] = OPEN_LOOP_HORIZONS, seed: int = 0,
              sampler: SamplerConfig | None = None) -> dict[str, dict]:
    """PSNR/SSIM at `horizons` of the simulator driven by the clips' real actions (clips (N, memory + T, 3, H, W)
    uint8 of one game, actions (N, memory + T - 1) in the simulator's action space), by the actions of the
    previous clip (shuffled: same distribution, wrong clip), and of repeating the last real frame."""
    if clips.shape[0] < 2:
        raise ValueError("open-loop scores need at least 2 clips per game (shuffled actions come from another)")
    steps = max(horizons)
    context, real = clips[:, :memory], clips[:, memory:memory + steps]
    future = actions[:, memory - 1:memory - 1 + steps]
    world = simulator.world

    def drive(acts: torch.Tensor) -> torch.Tensor:
        conditions = simulator.conditions(acts.flatten().numpy()).unflatten(0, acts.shape)
        return world.rollout(context, conditions, sampler, seed=seed).cpu()

    rows = {"simulator": drive(future), "shuffled actions": drive(future.roll(1, dims=0)),
            "repeat last frame": context[:, -1:].expand(-1, steps, -1, -1, -1)}
    out = {}
    for name, imagined in rows.items():
        errors = mse(imagined, real).mean(dim=0)
        similarity = ssim(imagined, real).mean(dim=0)
        out[name] = {"psnr": {str(h): psnr_of_mse(float(errors[h - 1])) for h in horizons},
                     "ssim": {str(h): float(similarity[h - 1]) for h in horizons},
                     "mse": {str(h): float(errors[h - 1]) for h in horizons}}
    return out
