"""Does a latent per state, instead of one averaged latent per move, keep the world model's control?

    python tools/state_latent_experiment.py --world-model checkpoints/wm-branch-bases-3k --k 0 16 4 1

The averaged-latent adapters give each move one latent, the mean of the latent action model's latents of its
few-shot transitions (data/fewshot-moves: 100 random steps per move and game, training levels). Here a move's
latent at a state is the mean over the k few-shot transitions of that move whose start frame is nearest (pixel
MSE) to the state's last frame (k = 0: all of them, the averaged table). Scored with the controllability
benchmark's counterfactual branches (test levels, seed 0), the latent held for the whole hold, next to the world
model given each real transition's own latent, in the same run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from adaworld_gym.data.episodes import EpisodeStore, read_episode
from adaworld_gym.data.branches import MOVES, real_branches
from adaworld_gym.evaluation.controllability import (GAMES, HOLDS, controllability, pooled, rollout_moves,
                                                     world_model_predictor)
from adaworld_gym.models.diffusion.sampler import SamplerConfig
from adaworld_gym.models.world_model import WorldModel


def few_shot_latents(world: WorldModel, store: EpisodeStore, game: str) -> tuple[torch.Tensor, ...]:
    """Start frames (T, 3, H, W) uint8, moves (T,) and latents (T, D) of a game's few-shot transitions."""
    starts, moves, latents = [], [], []
    for path in store.episode_paths(game):
        episode = read_episode(path)
        frames = torch.from_numpy(episode.frames).permute(0, 3, 1, 2)
        pairs = torch.stack([frames[:-1], frames[1:]], dim=1)
        starts.append(frames[:-1]), moves.append(torch.from_numpy(episode.actions))
        latents.append(world.label(pairs)[:, 0])
    return torch.cat(starts), torch.cat(moves), torch.cat(latents)


def state_conditions(last: torch.Tensor, starts: torch.Tensor, moves: torch.Tensor, latents: torch.Tensor, k: int,
                     hold: int) -> torch.Tensor:
    """(N, 4, hold, D): per state and move, the mean latent of its k nearest few-shot transitions (0: all)."""
    distance = (last[:, None].float() - starts[None].float()).pow(2).mean(dim=(2, 3, 4))  # (N, T)
    rows = []
    for move in range(len(MOVES)):
        mine = torch.nonzero(moves == move).squeeze(1)
        if k == 0:
            rows.append(latents[mine].mean(0).expand(len(last), -1))
        else:
            nearest = distance[:, mine].topk(min(k, len(mine)), largest=False).indices  # (N, k)
            rows.append(latents[mine][nearest].mean(1))
    return torch.stack(rows, dim=1)[:, :, None].expand(-1, -1, hold, -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world-model", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=Path("data/fewshot-moves"), help="few-shot moves dataset")
    parser.add_argument("--k", type=int, nargs="+", default=[0, 16, 4, 1], help="neighbours (0: all)")
    parser.add_argument("--states", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/state-latents"))
    args = parser.parse_args()
    print("settings:", json.dumps(vars(args), default=str))
    torch.manual_seed(args.seed)
    world, store = WorldModel.from_pretrained(args.world_model), EpisodeStore(args.data)
    sampler = SamplerConfig(num_steps=1)
    hold = max(HOLDS)
    rows: dict[str, dict] = {}
    for game in GAMES:
        branches = real_branches(game, args.states, memory=6, hold=hold, seed=args.seed)
        starts, moves, latents = few_shot_latents(world, store, game)
        rows.setdefault("true latents", {})[game] = controllability(
            branches, world_model_predictor(world, args.seed, sampler)(branches))
        for k in args.k:
            conditions = state_conditions(branches.context[:, -1], starts, moves, latents, k, hold)
            imagined = rollout_moves(world, branches, conditions, sampler, args.seed)
            rows.setdefault(f"k={k or 'all'}", {})[game] = controllability(branches, imagined)
        print(game, {row: f"{scores[game]['3']['accuracy']:.0%}" for row, scores in rows.items()}, flush=True)
    lines = ["| row | H=1 | H=3 | H=8 | " + " | ".join(GAMES) + " (H=3) |", "|---" * (4 + len(GAMES)) + "|"]
    for row, per_game in rows.items():
        total = pooled(per_game)
        lines.append(f"| {row} | " + " | ".join(f"{total[str(h)]['accuracy']:.1%}" for h in HOLDS) + " | "
                     + " | ".join(f"{per_game[g]['3']['accuracy']:.0%}" for g in GAMES) + " |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "state_latents.json").write_text(json.dumps({"settings": vars(args), "rows": rows}, default=str))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
