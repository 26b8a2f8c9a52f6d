"""The held-out reward / episode-end scores of the shipped adapters, as the README's table.

    python tools/adapter_report.py [--adapters adaworld_gym/weights/adapters] [--out benchmarks/results/shipped_adapters]

`adaworld adapt` scores each reward model on the held-out 20% of its few-shot transitions and stores the
scores in the adapter's config; this gathers them (no model is run) into `reward_models.json` and `.md`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from adaworld_gym.adaptation.reward_model import format_precision_recall
from adaworld_gym.io import read_json, write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapters", type=Path, default=Path("adaworld_gym/weights/adapters"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/shipped_adapters"))
    args = parser.parse_args()
    rows = []
    for folder in sorted(p for p in args.adapters.iterdir() if (p / "config.json").is_file()):
        meta = read_json(folder / "config.json", "adapter config")["metadata"]
        held_out = meta["reward_model_held_out"]
        rows.append({"adapter": folder.name, "game": meta["game"], "actions": len(meta["combos"]),
                     "transitions": meta["transitions"], **held_out})
    lines = ["| game | actions | few-shot transitions | reward timing | held-out steps | reward precision / recall "
             "(predicted of real) | end precision / recall (predicted of real) |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        timing = {0: "on time", 1: "a step late"}.get(row.get("reward_delay"), "-")
        lines.append(f"| {row['game']} | {row['actions']} | {row['transitions']} | {timing} | {row['reward']['count']} "
                     f"| {format_precision_recall(row['reward'])} | {format_precision_recall(row['episode_end'])} |")
    write_report(args.out, "reward_models", {"adapters": str(args.adapters), "rows": rows}, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
