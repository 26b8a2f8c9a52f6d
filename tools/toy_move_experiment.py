"""The toy of tests/test_controllability.py with the square's size and step as options: does a pixel-space
denoiser learn to move a square by the pixels its one-hot condition says? Prints right moves of 48 (chance 12)
and the sensitivity (mean pixel MSE between the four imagined outcomes). RESULTS.md (Controllability) has the
table these runs gave, e.g.

    python tools/toy_move_experiment.py --fold 2 --size 3 --step 1 --widths 8,16,32 \
        --denoiser '{"train_log_sigma_mean": 0.0, "train_log_sigma_std": 0.01}' --denoising-steps 1
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from adaworld_gym.evaluation.metrics import score_hold
from adaworld_gym.models.conditions import NoCondition
from adaworld_gym.models.diffusion.denoiser import Denoiser, preset as denoiser_preset
from adaworld_gym.models.diffusion.sampler import SamplerConfig
from adaworld_gym.models.frame_autoencoder import FrameAutoencoder, preset as ae_preset
from adaworld_gym.models.world_model import WorldModel
from adaworld_gym.training.train_wm import PIXEL_SPACE_DENOISER

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--fold", type=int, default=4, choices=(1, 2, 4), help="pixels per side of a grid cell")
parser.add_argument("--size", type=int, default=8, help="the square's side in pixels")
parser.add_argument("--step", type=int, default=4, help="pixels a move moves it")
parser.add_argument("--widths", default="16,32")
parser.add_argument("--steps", type=int, default=600)
parser.add_argument("--denoiser", default="{}", help="JSON of DenoiserConfig fields over the pixel-space ones")
parser.add_argument("--denoising-steps", type=int, default=3)
args = parser.parse_args()
moves = {0: (0, -args.step), 1: (args.step, 0), 2: (-args.step, 0), 3: (0, args.step)}  # LEFT, DOWN, UP, RIGHT


def squares(positions: np.ndarray, move: int | None = None) -> torch.Tensor:
    frames = np.full((len(positions), 3, 64, 64), 40, dtype=np.uint8)
    dy, dx = moves[move] if move is not None else (0, 0)
    for frame, (y, x) in zip(frames, positions):
        frame[:, y + dy:y + dy + args.size, x + dx:x + dx + args.size] = 255
    return torch.from_numpy(frames)


torch.set_num_threads(1)
torch.manual_seed(0)
autoencoder = FrameAutoencoder(ae_preset("fold", widths=(16,) * ({4: 2, 2: 1, 1: 0}[args.fold] + 1)))
config = denoiser_preset("tiny", **{**PIXEL_SPACE_DENOISER, **json.loads(args.denoiser),
                                    "latent_channels": autoencoder.config.latent_channels,
                                    "latent_size": autoencoder.config.latent_size, "condition_dim": 4,
                                    "widths": tuple(int(w) for w in args.widths.split(",")), "norm_groups": 4})
world = WorldModel(autoencoder, Denoiser(config), NoCondition(4))
optimizer = torch.optim.AdamW(world.denoiser.parameters(), lr=2e-3)
started = time.time()
for step in range(args.steps):
    positions = np.random.default_rng(step).integers(8, 48, size=(32, 2))
    chosen = np.random.default_rng(step).integers(4, size=32)
    before = squares(positions)
    after = torch.stack([squares(positions[i:i + 1], int(m))[0] for i, m in enumerate(chosen)])
    memory = world.autoencoder.encode(before[:, None].expand(-1, 6, -1, -1, -1))
    condition = torch.nn.functional.one_hot(torch.from_numpy(chosen), 4).float()
    loss = world.denoiser(world.autoencoder.encode(after), memory, torch.randint(1, 7, (32,)), condition)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
world.eval()
positions = np.random.default_rng(10_000).integers(8, 48, size=(12, 2))
before = squares(positions)
outcomes = torch.stack([squares(positions, m) for m in range(4)], dim=1)
sampler = SamplerConfig(num_steps=args.denoising_steps)
imagined = torch.stack([world.rollout(before[:, None], torch.eye(4)[m].expand(12, 1, 4), sampler, seed=0)[:, 0]
                        for m in range(4)], dim=1)
score = score_hold(imagined, outcomes, torch.ones(12, dtype=torch.bool))
print(f"{vars(args)}: {score.right}/{score.scored} right, sensitivity {score.sensitivity:.1f}, "
      f"{time.time() - started:.0f} s")
