"""Adaptation as the paper does it, on counterfactual branches of the pretraining games: the world model and
one action table per game (15 Procgen combos, starting as the adapters' averaged latents) are fine-tuned
together, the world model conditioned on the table row of each branch's action instead of its true latent. The
simulator then runs on conditions it was trained on, where the averaged latents lie off the pretrained model's
distribution (RESULTS.md: Controllability, issue 28: 48% of moves right given each transition's true latent,
39% given the averaged latent of the move).

    python tools/branch_adapt_experiment.py --world-model runs/wm-branch-unroll4-3k/model \
        --adapters runs/adapters-branch-unroll4-3k --out runs/branch-adapt --steps 1000

Branches of all 15 combos are played from each saved state (play with all 15, as the open loop's clips); half of
the groups train on the 4 moves, half on 4 combos drawn at random, so every row learns and the moves most.
Writes `<out>/model` (the fine-tuned world model) and `<out>/adapters/<game>-<full|moves>` (the tuned rows, the
reward models of --adapters); score with `python benchmarks/controllability.py --simulator
NAME=<out>/model,<out>/adapters --denoising-steps 1`. Needs action labels of the games it adapts to (the
branches' actions): an adaptation step, not pretraining.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn

from adaworld_gym.adaptation.simulator import AdaptedSimulator, world_model_identity
from adaworld_gym.data.branches import branch_loader
from adaworld_gym.envs.procgen_games import ACTION_SUBSETS
from adaworld_gym.evaluation.controllability import GAMES
from adaworld_gym.evaluation.metrics import score_hold
from adaworld_gym.models.diffusion.denoiser import Denoiser
from adaworld_gym.models.diffusion.sampler import SamplerConfig
from adaworld_gym.models.world_model import WorldModel
from adaworld_gym.training.loop import TrainerConfig, config_record, train
from adaworld_gym.training.train_wm import BranchWmTask

MOVES = torch.tensor(ACTION_SUBSETS["moves"])
PICKS = len(MOVES)


class Adapted(nn.Module):
    """The denoiser being fine-tuned and the (games, 15, dim) action tables."""

    def __init__(self, denoiser: Denoiser, tables: torch.Tensor):
        super().__init__()
        self.denoiser, self.tables = denoiser, nn.Parameter(tables)


class BranchAdaptTask(BranchWmTask):
    name = "branch-adapt"

    def __init__(self, world: WorldModel, contrast: float, branch_weight: float, unroll: int,
                 adapters: Path, games: list[str]):
        super().__init__(world.autoencoder, world.condition, world.memory, contrast, branch_weight, unroll=unroll)
        self.adapters, self.games, self.base = adapters, games, world

    def picks(self, groups: int, combos: int, step: int) -> torch.Tensor:
        """(groups, 4) combo indices: the 4 moves for even groups, 4 distinct random combos for odd ones."""
        generator = torch.Generator().manual_seed(step)
        drawn = torch.stack([torch.randperm(combos, generator=generator)[:PICKS] for _ in range(groups)])
        return torch.where((torch.arange(groups) % 2 == 0)[:, None], MOVES, drawn)

    def losses(self, model: Adapted, batch, step):
        context, outcomes, game = batch["context"], batch["outcomes"], batch["game"]
        groups = outcomes.shape[0]
        picked = self.picks(groups, outcomes.shape[1], step).to(outcomes.device)
        outcomes = outcomes[torch.arange(groups, device=outcomes.device)[:, None], picked]  # (G, 4, 3, H, W)
        condition = model.tables[game[:, None], picked].flatten(0, 1)
        return (self.branch_loss(model.denoiser, context, outcomes, condition, step),
                (context[:, -self.memory:], outcomes, condition))

    def diagnostics(self, model: Adapted, batch, output) -> dict[str, float]:
        """One-step accuracy over the batch's picked combos, given the table rows (8 states)."""
        context, outcomes, condition = output[0][:8], output[1][:8], output[2][:8 * PICKS]
        world = self.world_model(model.denoiser)
        state = world.start(context.repeat_interleave(PICKS, dim=0))
        generator = torch.Generator(context.device).manual_seed(0)
        frame, _ = world.step(state, condition, world.sampler(SamplerConfig(num_steps=1)), generator)
        score = score_hold(frame.unflatten(0, (len(context), PICKS)).cpu(), outcomes.cpu(),
                           torch.ones(len(context), dtype=torch.bool))
        return {"cf_acc": score.accuracy or 0.0, "sens": score.sensitivity or 0.0}

    def images(self, model, batch, output):
        return {}

    def export(self, model: Adapted, folder: Path, metadata: dict) -> None:
        """The world model, then every game's `full` and `moves` adapter with its tuned rows."""
        self.world_model(model.denoiser).save_pretrained(folder, metadata)
        tuned = WorldModel.from_pretrained(folder)
        for g, game in enumerate(self.games):
            for subset in ("full", "moves"):
                simulator = AdaptedSimulator.from_pretrained(self.adapters / f"{game}-{subset}", self.base,
                                                             game=game, actions=subset)
                with torch.no_grad():
                    rows = model.tables[g, torch.tensor(ACTION_SUBSETS[subset])]
                    simulator.action_map.table.weight.copy_(rows.to(simulator.action_map.table.weight))
                simulator.world = tuned  # the loaded metadata names the base model: name the tuned one
                simulator.save_pretrained(folder.parent / "adapters" / f"{game}-{subset}",
                                          {"branch_adapt_steps": metadata["trained_steps"],
                                           "world_model": world_model_identity(tuned)})


parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--world-model", type=Path, required=True)
parser.add_argument("--adapters", type=Path, required=True, help="folder of <game>-full and <game>-moves adapters "
                    "of that model (their full tables start the fine-tuning; their reward models are kept)")
parser.add_argument("--out", type=Path, required=True)
parser.add_argument("--games", default=",".join(GAMES))
parser.add_argument("--steps", type=int, default=1000)
parser.add_argument("--lr", type=float, default=3e-4)
parser.add_argument("--warmup-steps", type=int, default=50)
parser.add_argument("--contrast", type=float, default=30.0)
parser.add_argument("--branch-weight", type=float, default=300.0)
parser.add_argument("--unroll", type=int, default=4)
parser.add_argument("--groups", type=int, default=8, help="branch groups (states) per batch, 4 outcomes each")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
print(vars(args), flush=True)

games = args.games.split(",")
world = WorldModel.from_pretrained(args.world_model)
tables = torch.stack([AdaptedSimulator.from_pretrained(args.adapters / f"{game}-full", world, game=game,
                                                       actions="full").action_map.table.weight.detach().float()
                      for game in games])
config = TrainerConfig(out=args.out, steps=args.steps, batch_size=args.groups * PICKS, lr=args.lr,
                       warmup_steps=args.warmup_steps, games=games, image_every=0, seed=args.seed, ema_decay=0.995)
task = BranchAdaptTask(world, args.contrast, args.branch_weight, args.unroll, args.adapters, games)
model = Adapted(WorldModel.from_pretrained(args.world_model).denoiser.to(memory_format=torch.channels_last),
                tables)
full = len(ACTION_SUBSETS["full"])
loader_at = lambda step: branch_loader(games, world.memory + args.unroll, "full", args.groups * full,
                                       config.num_workers, args.seed + step, "held")
folder = train(task, model, loader_at, config, {**config_record(config), "experiment": vars(args) | {
    "world_model": str(args.world_model), "adapters": str(args.adapters), "out": str(args.out)}})
print("world model", folder, "adapters", folder.parent / "adapters")
