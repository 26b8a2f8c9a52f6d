"""Can the pixel-space denoiser *fit* what the true action does, on a few fixed counterfactual branch groups?

A two-minute check before a twenty-minute training: `--groups` branch groups (every move from saved Procgen train
states, `data.branches`) are drawn once, and the denoiser, conditioned on the one-hot move, is trained on just
those as a deterministic one-pass predictor (noise level 100 sigma_data, so EDM's skip term carries no noise; with
`--zero-noise` its noise input is zeros). Every 100 steps it prints, on the same groups:
- acc: counterfactual accuracy (own move's real frame nearest; `score_hold`), chance 25%, real 100%;
- sens: mean pairwise MSE of the four predictions (0-255 units), next to the real outcomes';
- cos: cosine between the predicted and the real deviations of each move from its group's mean (does the model
  move things the right way, pooled over pixels, so dominated by the states whose moves change most);
- group_cos: the same cosine per group, averaged (every state counts alike);
- acc_true_common: accuracy of the real group mean plus the predicted deviations (is the error in the common part);
- per_game: right / scored of acc, per game.
RESULTS.md (Controllability) has what it gave, e.g.

    python tools/branch_fit_experiment.py --steps 400 --zero-noise --condition-channels 8
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import torch

from adaworld_gym.data.branches import BranchStream
from adaworld_gym.evaluation.controllability import GAMES
from adaworld_gym.evaluation.metrics import score_hold
from adaworld_gym.models.change_weights import branch_weights
from adaworld_gym.models.diffusion.denoiser import Denoiser, preset
from adaworld_gym.models.frame_autoencoder import FrameAutoencoder, preset as autoencoder_preset
from adaworld_gym.models.world_model import to_uint8
from adaworld_gym.training.train_wm import PIXEL_SPACE_DENOISER

SIGMA = 100.0  # in units where sigma_data = 0.1: c_skip = 1e-6, so the prediction is the network's alone

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--games", default=",".join(GAMES))
parser.add_argument("--groups", type=int, default=64)
parser.add_argument("--steps", type=int, default=400)
parser.add_argument("--batch-groups", type=int, default=8)
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--fold", type=int, default=2, choices=(1, 2, 4))
parser.add_argument("--widths", default="16,32,64,128")
parser.add_argument("--layers-per-block", type=int, default=1)
parser.add_argument("--contrast", type=float, default=30.0)
parser.add_argument("--condition-channels", type=int, default=0)
parser.add_argument("--branch-weight", type=float, default=0.0,
                    help="grid cells where the real outcomes of a state's moves differ weigh 1 + this much (per "
                         "state, mean 1)")
parser.add_argument("--warp", action="store_true", help="DenoiserConfig.warp: a flow field warps the last frame")
parser.add_argument("--bases", type=int, default=0, help="DenoiserConfig.condition_bases")
parser.add_argument("--no-backbone-condition", action="store_true",
                    help="DenoiserConfig.condition_backbone = False: only the --bases mix sees the move")
parser.add_argument("--zero-noise", action="store_true", help="the network's noise input is zeros")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
print(vars(args), flush=True)
torch.manual_seed(args.seed)

stream = BranchStream(args.games.split(","), 6, num_envs=4, shuffle_buffer=0, seed=args.seed + 1)
groups = list(itertools.islice(iter(stream), args.groups))
context = torch.stack([g["context"] for g in groups])
outcomes = torch.stack([g["outcomes"] for g in groups])  # (G, 4, 3, H, W)
game_of = torch.stack([g["game"] for g in groups])
game_names = args.games.split(",")
n, moves = outcomes.shape[:2]
autoencoder = FrameAutoencoder(autoencoder_preset("fold", widths=(16,) * ({4: 2, 2: 1, 1: 0}[args.fold] + 1)))
widths = tuple(int(w) for w in args.widths.split(","))
config = preset("cpu", **{**PIXEL_SPACE_DENOISER, "sigma_max": SIGMA, "memory_noise_max": 0.0,
                          "condition_dropout": 0.0, "condition_channels": args.condition_channels,
                          "layers_per_block": args.layers_per_block, "warp": args.warp,
                          "condition_bases": args.bases,
                          "condition_backbone": not args.no_backbone_condition},
                latent_channels=autoencoder.config.latent_channels, latent_size=autoencoder.config.latent_size,
                condition_dim=moves, widths=widths, norm_groups=min(8, widths[0] // 2))
denoiser = Denoiser(config)
optimizer = torch.optim.AdamW(denoiser.parameters(), lr=args.lr)
memory = autoencoder.encode(context)  # (G, K, C, h, w)
change = autoencoder.encode(outcomes.flatten(0, 1)).unflatten(0, (n, moves)) - memory[:, None, -1]
conditions = torch.eye(moves)
cell_weights = branch_weights(outcomes, args.branch_weight, change.shape[-1])[::moves]  # (G, 1, h, w)
full = torch.full((n * moves,), config.memory)


def predict(index: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The predicted change for groups `index`, every move, from unit noise `noise` at SIGMA."""
    b = len(index) * moves
    seen = memory[index].repeat_interleave(moves, dim=0)
    return denoiser.denoise(noise * SIGMA, torch.full((b,), SIGMA), seen, full[:b], torch.zeros(b),
                            conditions.repeat(len(index), 1), torch.zeros(b, dtype=torch.bool), last=seen[:, -1])


def noise_input(b: int) -> torch.Tensor:
    shape = (1 if args.zero_noise else b, *change.shape[2:])
    return torch.zeros(shape).expand(b, -1, -1, -1) if args.zero_noise else torch.randn(shape)


@torch.no_grad()
def evaluate() -> dict[str, float]:
    everything = torch.arange(n)
    shared = noise_input(1).expand(n * moves, -1, -1, -1)  # one draw for every prediction, as the benchmark
    predicted = predict(everything, shared).unflatten(0, (n, moves))
    last = memory[:, None, -1]
    frames = to_uint8(autoencoder.decode((last + predicted).flatten(0, 1))).unflatten(0, (n, moves))
    alive = torch.ones(n, dtype=torch.bool)
    deviation = predicted - predicted.mean(dim=1, keepdim=True)
    real_deviation = change - change.mean(dim=1, keepdim=True)
    common = last + change.mean(dim=1, keepdim=True) + deviation
    with_true_common = to_uint8(autoencoder.decode(common.flatten(0, 1))).unflatten(0, (n, moves))
    model, real = score_hold(frames, outcomes, alive), score_hold(outcomes, outcomes, alive)
    per_game = {name: score_hold(frames[game_of == i], outcomes[game_of == i], alive[game_of == i])
                for i, name in enumerate(game_names) if (game_of == i).any()}
    return {"acc": model.accuracy, "sens": model.sensitivity, "real_sens": real.sensitivity,
            "cos": float((deviation * real_deviation).sum() / (deviation.norm() * real_deviation.norm() + 1e-12)),
            "group_cos": float(torch.nn.functional.cosine_similarity(deviation.flatten(1), real_deviation.flatten(1),
                                                                     dim=1, eps=1e-12).mean()),
            "acc_true_common": score_hold(with_true_common, outcomes, alive).accuracy,
            "per_game": {name: f"{s.right}/{s.scored}" for name, s in per_game.items()}}


started, log = time.time(), []
for step in range(args.steps + 1):
    if step % 100 == 0:
        denoiser.eval()
        scores = {"step": step, "seconds": round(time.time() - started), **evaluate()}
        denoiser.train()
        log.append(scores)
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in scores.items()}), flush=True)
    if step == args.steps:
        break
    index = torch.randint(n, (args.batch_groups,))
    b = len(index) * moves
    residual = (predict(index, noise_input(b)) - change[index].flatten(0, 1)) / 0.1  # in F units (c_out = 0.1)
    grouped = residual.unflatten(0, (-1, moves))
    weights = cell_weights[index][:, None]  # (groups, 1, 1, h, w)
    loss = (grouped.pow(2) * weights).mean() + \
        (args.contrast - 1) * ((grouped - grouped.mean(dim=1, keepdim=True)).pow(2) * weights).mean()
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(denoiser.parameters(), 1.0)
    optimizer.step()
