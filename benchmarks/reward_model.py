"""Held-out precision / recall of the reward and episode-end model that adaptation fits (the simulator's rewards).

    python benchmarks/reward_model.py --data starpilot=benchmarks/results/rl_b100k/data/starpilot-100000 \
        --data fruitbot=data/fewshot200
    python benchmarks/reward_model.py --quick      # seconds: one tiny dataset (a smoke test)

Per dataset and game (any `adaworld collect` dataset; all 15 actions): `fit_reward_model` as `adaworld adapt` runs
it (fit on 70% of the transitions, reward timing picked on 10%, scored on the other 20%, seed 0); the table names
the timing it picked. Writes reward_model.json and reward_model.md to --out.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import torch

from adaworld_gym.adaptation.adapt import REWARD_STEPS, fit_reward_model, load_few_shot
from adaworld_gym.adaptation.reward_model import format_precision_recall
from adaworld_gym.data import CollectConfig, collect
from adaworld_gym.io import write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", action="append", default=[], help="GAME=DATASET (repeatable)")
    parser.add_argument("--steps", type=int, default=REWARD_STEPS, help="reward model training steps (adapt's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a 20-transition-per-action chaser dataset, 20 steps")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "reward_model")
    args = parser.parse_args()
    if args.quick:
        folder = Path(tempfile.mkdtemp()) / "chaser"
        collect(CollectConfig(out=folder, games=["chaser"], per_action=20, split="train"), progress=False)
        args.data, args.steps = [f"chaser={folder}"], 20
    print("settings:", json.dumps({k: str(v) for k, v in vars(args).items()}))
    report = {"settings": {k: str(v) for k, v in vars(args).items()}, "runs": {}}
    lines = ["| game | dataset | transitions | reward timing picked | reward precision / recall (predicted of real) | "
             "episode end precision / recall |", "|---|---|---|---|---|---|"]
    for spec in args.data:
        game, dataset = spec.split("=", 1)
        torch.manual_seed(args.seed)
        start = time.perf_counter()
        data = load_few_shot(dataset, game, 15)
        _, held = fit_reward_model(data, gym.spaces.Discrete(15), args.steps, args.seed, torch.device("cpu"))
        held.update(transitions=len(data.actions), dataset=dataset, seconds=round(time.perf_counter() - start, 1))
        report["runs"][spec] = held
        timing = "one step late" if held["reward_delay"] else "on time"
        lines.append(f"| {game} | {dataset} | {len(data.actions)} | {timing} | {format_precision_recall(held['reward'])} | "
                     f"{format_precision_recall(held['episode_end'])} |")
        print(lines[-1], flush=True)
    write_report(args.out, "reward_model", report, lines)


if __name__ == "__main__":
    main()
