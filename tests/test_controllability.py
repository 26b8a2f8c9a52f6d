"""Does the action reach the pixels? The counterfactual scores, the pixel-space world model on a toy task where
four moves must give four different outcomes in the right directions, and the real branches they are scored on."""

import numpy as np
import torch

from adaworld_gym.data.branches import MOVES, real_branches
from adaworld_gym.evaluation.controllability import controllability, pooled
from adaworld_gym.evaluation.metrics import score_hold
from adaworld_gym.models.conditions import NoCondition
from adaworld_gym.models.diffusion.denoiser import Denoiser, preset as denoiser_preset
from adaworld_gym.models.frame_autoencoder import FrameAutoencoder, preset as ae_preset
from adaworld_gym.models.world_model import WorldModel, to_uint8
from adaworld_gym.training.train_wm import PIXEL_SPACE_DENOISER

STEPS = {0: (0, -4), 1: (4, 0), 2: (-4, 0), 3: (0, 4)}  # LEFT, DOWN, UP, RIGHT as (dy, dx) in pixels


def squares(positions: np.ndarray, move: int | None = None) -> torch.Tensor:
    """White 8x8 squares on a dim background at `positions` (N, 2), moved by `move` (None: where they are)."""
    frames = np.full((len(positions), 3, 64, 64), 40, dtype=np.uint8)
    dy, dx = STEPS[move] if move is not None else (0, 0)
    for frame, (y, x) in zip(frames, positions):
        frame[:, y + dy:y + dy + 8, x + dx:x + dx + 8] = 255
    return torch.from_numpy(frames)


def square_positions(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(8, 48, size=(n, 2))


def test_fold_autoencoder_is_lossless():
    frames = torch.randint(0, 256, (2, 3, 3, 64, 64), dtype=torch.uint8)
    fold = FrameAutoencoder(ae_preset("fold"))
    latents = fold.encode(frames)
    assert latents.shape == (2, 3, 48, 16, 16) and len(list(fold.parameters())) == 0
    assert torch.equal(to_uint8(fold.decode(latents)), frames)


def test_score_hold_counts_right_moves_and_skips_moves_that_look_alike():
    real = torch.zeros(3, 4, 3, 8, 8, dtype=torch.uint8)
    for m in range(4):
        real[:, m, :, m, m] = 200  # every move lights its own pixel
    real[2, 3] = real[2, 2]  # in state 2, UP and RIGHT end the same: neither is scored
    alive = torch.tensor([True, True, True])
    perfect = score_hold(real, real, alive)
    assert (perfect.right, perfect.scored) == (10, 10) and perfect.accuracy == 1.0
    frozen = score_hold(torch.zeros_like(real), real, alive)  # one frame for every move: nearest to none
    assert frozen.right == 0 and frozen.sensitivity == 0.0
    swapped = score_hold(real[:, [3, 1, 2, 0]], real, alive)  # LEFT and RIGHT drawn the other way round
    assert swapped.right == 5 and swapped.scored == 10  # DOWN and UP where scored; LEFT and RIGHT never
    ended = score_hold(real, real, torch.tensor([True, False, False]))
    assert ended.scored == 4
    six = torch.zeros(2, 6, 3, 8, 8, dtype=torch.uint8)  # branches of more actions than the 4 moves (--branch-actions)
    for m in range(6):
        six[:, m, :, m, m] = 200
    both = torch.tensor([True, True])
    assert score_hold(six, six, both).right == 12
    assert (score_hold(six.flip(1), six, both).right, score_hold(six.flip(1), six, both).scored) == (0, 12)


def test_pixel_space_world_model_moves_the_square_the_way_each_condition_says():
    """Trained on 'the square moves the way the one-hot condition says', the pixel-space world model (lossless
    fold, change prediction) gives four different outcomes from one state, each nearest to its own move's."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the score at this budget moves with the thread count's rounding: pin it
    torch.manual_seed(0)
    config = denoiser_preset("tiny", **{**PIXEL_SPACE_DENOISER, "latent_channels": 48, "condition_dim": 4})
    world = WorldModel(FrameAutoencoder(ae_preset("fold")), Denoiser(config), NoCondition(4))
    optimizer = torch.optim.AdamW(world.denoiser.parameters(), lr=2e-3)
    for step in range(600):
        positions = square_positions(32, seed=step)
        moves = np.random.default_rng(step).integers(4, size=32)
        before = squares(positions)
        after = torch.stack([squares(positions[i:i + 1], int(m))[0] for i, m in enumerate(moves)])
        memory = world.autoencoder.encode(before[:, None].expand(-1, 6, -1, -1, -1))
        condition = torch.nn.functional.one_hot(torch.from_numpy(moves), 4).float()
        loss = world.denoiser(world.autoencoder.encode(after), memory, torch.randint(1, 7, (32,)), condition)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.set_num_threads(threads)
    world.eval()
    positions = square_positions(12, seed=10_000)  # unseen states
    before = squares(positions)
    outcomes = torch.stack([squares(positions, m) for m in range(4)], dim=1)  # what each move really does
    imagined = torch.stack([world.rollout(before[:, None], torch.eye(4)[m].expand(12, 1, 4), seed=0)[:, 0]
                            for m in range(4)], dim=1)
    score = score_hold(imagined, outcomes, torch.ones(12, dtype=torch.bool))
    assert score.scored == 48
    # The curve is steep here (22 of 48 after 400 steps, 36 after 500) and, trained on two threads, 34 after 600
    # and 21 after 800; the same model with the scheduler's initial noise, 41% too strong for a pixel-change model,
    # stayed at 12-17 of 48.
    assert score.accuracy >= 0.6, f"{score.right} of 48 moves nearest to their own outcome (chance 12)"


def test_real_branches_are_exact_counterfactuals_and_score_perfectly():
    branches = real_branches("maze", states=3, memory=6, hold=3, seed=0)
    assert branches.context.shape == (3, 6, 3, 64, 64) and branches.outcomes.shape == (3, 4, 3, 3, 64, 64)
    again = real_branches("maze", states=3, memory=6, hold=3, seed=0)
    assert torch.equal(branches.outcomes, again.outcomes)  # same seed, same states and outcomes
    scores = controllability(branches, branches.outcomes, holds=(1, 3))
    assert all(s["accuracy"] == 1.0 for s in scores.values() if s["scored"])
    frozen = branches.context[:, None, None, -1].expand(-1, len(MOVES), 3, -1, -1, -1)
    assert controllability(branches, frozen, holds=(3,))["3"]["right"] == 0
    summary = pooled({"maze": scores})
    assert summary["1"]["right"] == scores["1"]["right"]
