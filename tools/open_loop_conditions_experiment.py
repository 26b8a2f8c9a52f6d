"""Where the open loop loses its frames: one world model driven over the same test clips by three sources of
conditions, next to the benchmark's own open-loop rows (`evaluation.controllability.open_loop`: the simulator,
shuffled actions, repeating the last real frame) (RESULTS.md: Controllability, issue 28):

- `simulator`: the adapter's averaged latent of each played action (what the simulator ships);
- `knn`: per state, the mean latent of the K few-shot transitions of the same action whose first frames are
  nearest (4x4-pooled pixels) to the current imagined frame, chosen afresh at every step;
- `true`: the latent action model's latent of each real transition of the clip (an oracle: what a per-state
  condition could reach at best).

    python tools/open_loop_conditions_experiment.py --world-model runs/wm-branch-warp-3k/model \
        --adapters runs/adapters-branch-warp-3k

Clips: `evaluation.wm_eval.test_clips` (8 held-random test clips per game, seed 0, all 15 actions, the `full`
adapters and `data/fewshot-full`), one denoising step, rollout seed 0. PSNR of the mean squared error over games,
as `benchmarks/controllability.py` reports its open loop.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from adaworld_gym.adaptation.adapt import few_shot_conditions, load_few_shot, transition_pairs
from adaworld_gym.adaptation.simulator import AdaptedSimulator
from adaworld_gym.envs.procgen_games import resolve_actions
from adaworld_gym.evaluation.controllability import GAMES, open_loop
from adaworld_gym.evaluation.metrics import mse, psnr_of_mse
from adaworld_gym.data.clips import test_clips
from adaworld_gym.models.diffusion.sampler import SamplerConfig
from adaworld_gym.models.world_model import WorldModel

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--world-model", type=Path, required=True)
parser.add_argument("--adapters", type=Path, required=True, help="folder of <game>-full adapters of that model")
parser.add_argument("--games", default=",".join(GAMES))
parser.add_argument("--clips", type=int, default=8)
parser.add_argument("--steps", type=int, default=10)
parser.add_argument("--neighbours", type=int, default=8)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
print(vars(args), flush=True)

world = WorldModel.from_pretrained(args.world_model)
sampler = SamplerConfig(num_steps=1)
horizons = [h for h in (1, 5, 10, 20) if h <= args.steps]


def features(frames: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(frames.float() / 255, 4).flatten(1)


def nearest_rollout(context: torch.Tensor, actions: torch.Tensor, latents: torch.Tensor, shot_actions: torch.Tensor,
                    shot_features: torch.Tensor) -> torch.Tensor:
    state, run = world.start(context), world.sampler(sampler)
    generator, frames = torch.Generator(world.device).manual_seed(args.seed), []
    for t in range(actions.shape[1]):
        now = features(state.frame.cpu())
        conditions = []
        for i in range(len(now)):
            same = shot_actions == actions[i, t]
            distance = (shot_features[same] - now[i]).pow(2).sum(1)
            nearest = distance.topk(min(args.neighbours, len(distance)), largest=False).indices
            conditions.append(latents[same][nearest].mean(0))
        frame, state = world.step(state, torch.stack(conditions), run, generator)
        frames.append(frame.cpu())
    return torch.stack(frames, dim=1)


combos = resolve_actions("full")
games = args.games.split(",")
pooled: dict[str, list[float]] = {}
for game in games:
    simulator = AdaptedSimulator.from_pretrained(args.adapters / f"{game}-full", world, game=game, actions="full")
    data = load_few_shot(Path("data/fewshot-full"), game, len(combos))
    seen = torch.nonzero(data.observed).flatten()
    latents = few_shot_conditions(world, data, seen).cpu()
    shot_features = features(transition_pairs(data, seen)[0])
    clips, actions = test_clips([game], args.clips, world.memory + args.steps, seed=args.seed)
    context, real = clips[:, :world.memory], clips[:, world.memory:]
    played = actions[:, world.memory - 1:world.memory - 1 + args.steps]
    errors = {name: [row["mse"][str(h)] for h in horizons] for name, row in
              open_loop(clips, actions, simulator, world.memory, tuple(horizons), args.seed, sampler).items()}
    for name, frames in {"knn": nearest_rollout(context, played, latents, data.actions[seen], shot_features),
                         "true": world.rollout(context, world.label(clips[:, world.memory - 1:]), sampler,
                                               seed=args.seed).cpu()}.items():
        per_step = mse(frames, real).mean(dim=0)
        errors[name] = [float(per_step[h - 1]) for h in horizons]
    for name, values in errors.items():
        pooled[name] = [p + v / len(games) for p, v in zip(pooled.get(name, [0.0] * len(horizons)), values)]
    print(game, "PSNR at", horizons, ":", "; ".join(
        f"{name} " + " / ".join(f"{psnr_of_mse(v):.1f}" for v in values) for name, values in errors.items()), flush=True)
print("mean over games, PSNR at", horizons, ":", "; ".join(
    f"{name} " + " / ".join(f"{psnr_of_mse(v):.2f}" for v in values) for name, values in pooled.items()))
