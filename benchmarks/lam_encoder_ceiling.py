"""Can the latent action encoder see the agent's move at all? Its ceiling, measured *with* action labels.

    python benchmarks/lam_encoder_ceiling.py [--games heist,maze | all] [--steps 1000] [--encoders transformer cnn]

The latent action model never sees action labels. This diagnostic does: it trains each encoder architecture of
`LatentActionModel` (same preset width) plus a linear head to classify the move (LEFT, DOWN, UP, RIGHT, NOOP)
from a frame pair by cross-entropy, on train levels, and scores it on the test-level pairs whose move is visible
(its next frame differs from every other move's, checked in the real game). If an encoder cannot learn the move
with labels, no unsupervised objective will put it into that encoder's latent. Writes
`encoder_ceiling.json` and `encoder_ceiling.md` to --out.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from adaworld_gym.envs.procgen_batch import ProcgenBatch
from adaworld_gym.envs.procgen_games import ACTION_SUBSETS, PROCGEN_GAMES, TRAIN_LEVELS
from adaworld_gym.evaluation.lam_eval import test_transitions
from adaworld_gym.io import write_report
from adaworld_gym.models.latent_action import ENCODERS, LatentActionModel, frames_to_float, preset

MOVES = ACTION_SUBSETS["moves_noop"]


def train_pairs(game: str, count: int, seed: int, num_envs: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """`count` (f_t, f_t+1) pairs of train levels under uniform random moves, labelled 0-4 in MOVES order."""
    batch = ProcgenBatch(game, num_envs, start_level=TRAIN_LEVELS[0], num_levels=TRAIN_LEVELS[1],
                         actions="moves_noop", seed=seed)
    rng = np.random.default_rng(seed)
    pairs, labels = [], []
    while sum(len(a) for a in labels) < count:
        before, act = batch.obs, rng.integers(0, len(MOVES), num_envs)
        step = batch.step(act)
        keep = ~(step.terminated | step.truncated)
        pairs.append(np.stack([before[keep], step.obs[keep]], axis=1))
        labels.append(act[keep])
    return np.concatenate(pairs)[:count].transpose(0, 1, 4, 2, 3), np.concatenate(labels)[:count]


def accuracy_per_game(model, head, pairs, labels, games, names) -> dict[str, float]:
    with torch.no_grad():
        predicted = head(model.action_features(frames_to_float(pairs))).argmax(dim=-1)
    correct = (predicted == labels).numpy()
    return {name: float(correct[games == g].mean()) for g, name in enumerate(names)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", default="heist,maze", help="comma-separated Procgen games, or 'all'")
    parser.add_argument("--encoders", nargs="+", default=list(ENCODERS), choices=ENCODERS)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--train-pairs", type=int, default=20000, help="per game")
    parser.add_argument("--test-pairs", type=int, default=600, help="per game, all actions (about 1/3 are moves)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "encoder_ceiling")
    parser.add_argument("--quick", action="store_true", help="tiny model, few steps: checks it runs")
    args = parser.parse_args()
    if args.quick:
        args.preset, args.steps, args.eval_every, args.train_pairs, args.test_pairs = "tiny", 4, 2, 256, 60
    names = list(PROCGEN_GAMES) if args.games == "all" else args.games.split(",")
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    print("settings:", json.dumps(settings))

    torch.manual_seed(args.seed)
    data = [train_pairs(game, args.train_pairs, args.seed + i) for i, game in enumerate(names)]
    x = torch.from_numpy(np.concatenate([d[0] for d in data]))
    y = torch.from_numpy(np.concatenate([d[1] for d in data])).long()
    test = test_transitions(names, args.test_pairs, seed=args.seed)
    visible = test.visible  # only moves+noop can be visible
    test_x = torch.from_numpy(test.pairs[visible])
    test_y = torch.tensor([MOVES.index(int(a)) for a in test.actions[visible]])
    test_games = test.games[visible]
    print(f"{len(x)} train pairs, {len(test_x)} visible test moves "
          f"({', '.join(f'{n}: {int((test_games == g).sum())}' for g, n in enumerate(names))})")

    curves = {}
    for encoder in args.encoders:
        torch.manual_seed(args.seed)
        model = LatentActionModel(preset(args.preset, encoder=encoder))
        head = torch.nn.Linear(model.config.width, len(MOVES))
        # The decoder and latent layers get no gradient here, and AdamW leaves such parameters untouched.
        optimizer = torch.optim.AdamW(list(model.parameters()) + list(head.parameters()), lr=args.lr)
        generator = torch.Generator().manual_seed(args.seed)
        curve, start = [], time.perf_counter()
        for step in range(args.steps + 1):
            if step % args.eval_every == 0 or step == args.steps:
                scores = accuracy_per_game(model, head, test_x, test_y, test_games, names)
                curve.append({"step": step, "seconds": round(time.perf_counter() - start, 1), **scores})
                print(encoder, curve[-1], flush=True)
            if step == args.steps:
                break
            index = torch.randint(0, len(x), (args.batch_size,), generator=generator)
            loss = F.cross_entropy(head(model.action_features(frames_to_float(x[index]))), y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        curves[encoder] = curve

    report = {"settings": settings, "chance": 1 / len(MOVES), "curves": curves}
    # The mean weighs every game equally, as lam_eval's per-game means do, so the two can be read side by side.
    header = "| encoder | step | " + " | ".join(names) + " | mean |"
    lines = [f"Move accuracy on visible test-level moves (chance {1 / len(MOVES):.0%}), trained with labels; "
             f"preset {args.preset}, batch {args.batch_size}, lr {args.lr}, seed {args.seed}.", "",
             header, "|" + "---|" * (len(names) + 3)]
    lines += [f"| {encoder} | {row['step']} | " + " | ".join(f"{row[n]:.1%}" for n in names) +
              f" | {np.mean([row[n] for n in names]):.1%} |"
              for encoder, curve in curves.items() for row in curve]
    write_report(args.out, "encoder_ceiling", report, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
