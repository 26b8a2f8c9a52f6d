"""Adaptation that leaves the world model alone: the averaged-latent action map (one latent per action) is
fine-tuned through the *frozen* world model on the few-shot clips, with the pretraining loss, so each action's
latent becomes the one the world model draws that action with, rather than the mean of what the latent action
model saw. A diagnostic of RESULTS.md (issue 28): the averaged latents lose 7 points of the world model's
counterfactual accuracy (39.7% given each transition's true latent, 32.7% given the move).

    python tools/action_map_finetune_experiment.py --world-model runs/wm-branch-warp/model \
        --adapters runs/adapters-branch-warp --out runs/adapters-branch-warp-am --steps 200

writes `<out>/<game>-<subset>` adapters (the reward models copied from --adapters); then score them with
`python benchmarks/controllability.py --simulator NAME=WORLD_MODEL,OUT --denoising-steps 1` (`--subsets moves,full`
for the open loop too, which plays the 15 actions of the full adapters; `--clips 0` with moves alone).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym

from adaworld_gym.adaptation.adapt import adapt_to_data, finetune, load_few_shot
from adaworld_gym.envs.procgen_games import resolve_actions
from adaworld_gym.evaluation.controllability import GAMES
from adaworld_gym.models.world_model import WorldModel

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--world-model", type=Path, required=True)
parser.add_argument("--adapters", type=Path, required=True, help="adapters whose reward models are reused")
parser.add_argument("--subsets", default="moves", help="comma-separated action subsets (moves, full); the "
                    "few-shot data of each is data/fewshot-<subset>")
parser.add_argument("--out", type=Path, required=True)
parser.add_argument("--games", default=",".join(GAMES))
parser.add_argument("--steps", type=int, default=200)
parser.add_argument("--lr", type=float, default=1e-3, help="the action map's learning rate")
parser.add_argument("--batch-size", type=int, default=32)
args = parser.parse_args()

world = WorldModel.from_pretrained(args.world_model)
world.denoiser.requires_grad_(False)  # only the action map learns: one world model serves every game
for subset in args.subsets.split(","):
    combos, dataset = resolve_actions(subset), Path(f"data/fewshot-{subset}")
    for game in args.games.split(","):
        data = load_few_shot(dataset, game, len(combos))
        simulator = adapt_to_data(world, data, gym.spaces.Discrete(len(combos)), game, finetune_steps=0,
                                  progress=False, combos=combos, metadata={"dataset": str(dataset)},
                                  reward_model_from=args.adapters / f"{game}-{subset}")
        losses = finetune(world, simulator.action_map, data, args.steps, args.batch_size, args.lr / 10,
                          progress=False)
        folder = simulator.save_pretrained(args.out / f"{game}-{subset}", {"action_map_finetune_steps": args.steps})
        print(game, subset, f"loss {sum(losses[:20]) / 20:.2f} -> {sum(losses[-20:]) / 20:.2f}", folder, flush=True)
