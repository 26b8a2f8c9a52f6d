"""The world model's stage of the controllability chain, with a perfect condition: the pixel-space denoiser of
`train-wm --pixel-space` conditioned on the one-hot *true* Procgen action of each transition instead of a latent
action. If this cannot learn to draw the move in a CPU budget, no latent action model can make the world model do
it; if it can, the loss of control lies in the latent actions. A diagnostic of RESULTS.md (issue 28), not a
shipped model (it needs action labels, which AdaWorld's pretraining does not have).

    python tools/action_oracle_experiment.py --out runs/oracle --steps 3000 --policy random \
        --games maze,heist,jumper,caveflyer,coinrun,bigfish,starpilot,chaser,climber,miner

The recipe that first moved the agent (RESULTS.md: counterfactual branches, the loss weighted where the moves'
outcomes differ, a one-pass regression at sigma 100):

    python tools/action_oracle_experiment.py --out runs/oracle-branch-bw300 --steps 6000 --policy held --fold 2 \
        --widths 16,32,64,128 --actions moves --lr 1e-3 --warmup-steps 100 --denoising-steps 1 --branches \
        --contrast 30 --branch-weight 300 --denoiser '{"sigma_max": 100.0, "train_log_sigma_mean": 4.605,
        "train_log_sigma_std": 0.01, "memory_noise_max": 0.0, "condition_dropout": 0.0, "condition_channels": 8}'
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from adaworld_gym.data.branches import branch_loader
from adaworld_gym.data.clips import LiveClipStream
from adaworld_gym.envs.procgen_games import ACTION_SUBSETS, PROCGEN_ACTION_NAMES
from adaworld_gym.data.branches import real_branches
from adaworld_gym.evaluation.controllability import GAMES, contact_rows, controllability, pooled, rollout_moves
from adaworld_gym.models.change_weights import change_weights
from adaworld_gym.models.conditions import NoCondition
from adaworld_gym.models.diffusion.denoiser import Denoiser, preset
from adaworld_gym.models.diffusion.sampler import SamplerConfig
from adaworld_gym.models.frame_autoencoder import FrameAutoencoder
from adaworld_gym.models.frame_autoencoder import preset as autoencoder_preset
from adaworld_gym.models.latent_action import frames_to_float
from adaworld_gym.models.world_model import WorldModel
from adaworld_gym.simulator.loading import resolve_device
from adaworld_gym.training.loop import config_record, train
from adaworld_gym.training.train_wm import PIXEL_SPACE_DENOISER, BranchWmTask, WmTask, WmTrainConfig
from adaworld_gym.video import contact_sheet

NUM_ACTIONS = len(PROCGEN_ACTION_NAMES)


class ActionOracleTask(WmTask):
    """WmTask whose condition is the one-hot true action between the last memory frame and the target."""

    def __init__(self, autoencoder: FrameAutoencoder, memory: int, subset: str, change_weight: float):
        super().__init__(autoencoder, NoCondition(NUM_ACTIONS), memory, change_weight)
        self.combos = torch.tensor(ACTION_SUBSETS[subset])  # the stream's action indices are into its subset

    def losses(self, model: Denoiser, batch, step):
        frames, k = batch["frames"], self.memory
        with torch.no_grad():
            latents = self.autoencoder.to(frames.device).encode(frames)
        condition = F.one_hot(self.combos[batch["actions"][:, k - 1]], NUM_ACTIONS).float().to(frames.device)
        lengths = torch.randint(1, k + 1, (frames.shape[0],), device=frames.device)
        weights = None
        if self.change_weight:
            weights = change_weights(frames_to_float(frames[:, k - 1]), frames_to_float(frames[:, k]),
                                     self.change_weight, latents.shape[-1])
        return {"loss": model(latents[:, k], latents[:, :k], lengths, condition, weights)}, condition

    def images(self, model, batch, condition):
        return {}


class BranchOracleTask(BranchWmTask):
    """BranchWmTask (counterfactual branch groups) whose condition is each outcome's one-hot true action."""

    def __init__(self, autoencoder: FrameAutoencoder, memory: int, subset: str, contrast: float,
                 branch_weight: float):
        super().__init__(autoencoder, NoCondition(NUM_ACTIONS), memory, contrast, branch_weight)
        self.combos = torch.tensor(ACTION_SUBSETS[subset])

    def branch_conditions(self, context, outcomes):
        return F.one_hot(self.combos, NUM_ACTIONS).float().repeat(outcomes.shape[0], 1).to(context.device)


def score(world: WorldModel, games: list[str], states: int, sampler: SamplerConfig, sheet: Path) -> dict:
    """Controllability per game and pooled; `sheet`: a contact sheet of 2 states per game at H = 3 (columns: the
    last real frame, the 4 real outcomes, the 4 imagined ones)."""
    moves = torch.tensor(ACTION_SUBSETS["moves"])
    per_game, rows = {}, []
    for game in games:
        branches = real_branches(game, states, memory=world.memory, hold=8, seed=0)
        n, hold = branches.context.shape[0], branches.outcomes.shape[2]
        one_hots = F.one_hot(moves, NUM_ACTIONS).float()  # (4, 15)
        imagined = rollout_moves(world, branches, one_hots[None, :, None].expand(n, -1, hold, -1), sampler, 0)
        per_game[game] = controllability(branches, imagined)
        rows.append(contact_rows(branches, imagined, hold=3, rows=2))
        print(game, {h: f"{s['accuracy']:.0%} ({s['scored']})" for h, s in per_game[game].items()}, flush=True)
    frames = np.concatenate(rows).reshape(-1, *rows[0].shape[2:])
    contact_sheet(frames, sheet, columns=9, max_frames=len(frames), scale=1)
    return {"per_game": per_game, "pooled": pooled(per_game)}


parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--out", type=Path, required=True)
parser.add_argument("--steps", type=int, default=3000)
parser.add_argument("--policy", default="random")
parser.add_argument("--games", default=",".join(GAMES))
parser.add_argument("--states", type=int, default=16)
parser.add_argument("--preset", default="cpu")
parser.add_argument("--fold", type=int, default=4, help="pixels per side of a grid cell (4: the 16x16 grid of "
                    "train-wm --pixel-space; 1: full resolution)")
parser.add_argument("--actions", default="full", choices=sorted(ACTION_SUBSETS),
                    help="the stream's action subset (one-hots stay over all 15 combos)")
parser.add_argument("--denoiser", default="{}", help="JSON of DenoiserConfig fields over the pixel-space ones")
parser.add_argument("--denoising-steps", type=int, default=3)
parser.add_argument("--change-weight", type=float, default=0.0,
                    help="grid cells whose pixels changed weigh 1 + this much in the loss (the LAM's is 300)")
parser.add_argument("--branches", action="store_true",
                    help="train on counterfactual branch groups (every move from each saved state) of --actions")
parser.add_argument("--contrast", type=float, default=1.0,
                    help="with --branches: weight of the error that differs between a state's moves")
parser.add_argument("--branch-weight", type=float, default=0.0,
                    help="with --branches: grid cells where a state's move outcomes differ weigh 1 + this much")
parser.add_argument("--lr", type=float, default=3e-4)
parser.add_argument("--warmup-steps", type=int, default=300)
parser.add_argument("--widths", default="32,64,128", help="the UNet's block widths, finest first")
parser.add_argument("--batch-size", type=int, default=32, help="outcomes per batch (with --branches: 4 per group)")
parser.add_argument("--num-workers", type=int, default=1)
parser.add_argument("--time-limit", type=float, default=None, help="minutes; the schedule then decays over them")
parser.add_argument("--device", default="cpu", help="where the trained model is scored (training: accelerate's)")
args = parser.parse_args()
games = args.games.split(",")
config = WmTrainConfig(out=args.out, pixel_space=True, condition="none", steps=args.steps, policy=args.policy,
                       games=games, image_every=0, preset=args.preset, lr=args.lr,
                       warmup_steps=args.warmup_steps, batch_size=args.batch_size, num_workers=args.num_workers,
                       time_limit=args.time_limit)
halvings = {4: 2, 2: 1, 1: 0}[args.fold]  # the fold autoencoder's grid is resolution / 2**halvings
autoencoder = FrameAutoencoder(autoencoder_preset("fold", widths=(16,) * (halvings + 1))).eval()
widths = tuple(int(w) for w in args.widths.split(","))
model_config = preset(config.preset, **{**PIXEL_SPACE_DENOISER, **json.loads(args.denoiser)}, latent_channels=autoencoder.config.latent_channels,
                      latent_size=autoencoder.config.latent_size, condition_dim=NUM_ACTIONS, widths=widths,
                      norm_groups=min(8, widths[0] // 2))
if args.branches:
    task = BranchOracleTask(autoencoder, model_config.memory, args.actions, args.contrast, args.branch_weight)
else:
    task = ActionOracleTask(autoencoder, model_config.memory, args.actions, args.change_weight)


def loader_at(step: int) -> DataLoader:
    if args.branches:
        return branch_loader(games, model_config.memory, args.actions, config.batch_size, config.num_workers,
                             config.seed + step, args.policy)
    stream = LiveClipStream(games, clip_len=model_config.memory + 1, num_envs=16, policy=args.policy, split="train",
                            seed=config.seed + step, shuffle_buffer=1024, actions=args.actions)
    return DataLoader(stream, batch_size=config.batch_size, num_workers=config.num_workers)



denoiser = Denoiser(model_config).to(memory_format=torch.channels_last)
started = time.time()
folder = train(task, denoiser, loader_at, config, config_record(config, model=model_config))
minutes = (time.time() - started) / 60
world = WorldModel.from_pretrained(folder, device=resolve_device(args.device))
result = {"steps": world.metadata["trained_steps"], "batch_size": args.batch_size, "actions": args.actions, "lr": args.lr, "fold": args.fold, "widths": widths, "policy": args.policy, "games": games, "train_minutes": round(minutes, 1),
          "denoiser": json.loads(args.denoiser), "denoising_steps": args.denoising_steps,
          "change_weight": args.change_weight, "branches": args.branches, "contrast": args.contrast,
          "branch_weight": args.branch_weight,
          **score(world, games, args.states, SamplerConfig(num_steps=args.denoising_steps),
                   args.out / "controllability.png")}
(args.out / "controllability.json").write_text(json.dumps(result, indent=1))
print({h: f"{s['accuracy']:.1%} of {s['scored']}, min game {s['min_accuracy']:.0%}"
       for h, s in result["pooled"].items()})
