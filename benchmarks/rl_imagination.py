"""RL trained in imagination vs on the real game at equal real interactions (issue: agents in the simulator).

    python benchmarks/rl_imagination.py --games bigfish,starpilot,fruitbot --budgets 10000 100000
    python benchmarks/rl_imagination.py --quick          # minutes: one game, a tiny budget (a smoke test)

Per game and budget B: (a) PPO in the simulator adapted from B real random steps, (b) PPO on the real game for
B steps, (c) PPO on the real game for 10 B steps; random play as the floor. Every agent's score is its mean
return on the same real test levels. Writes rl.json (resumable), rl.md and rl_curves.png to --out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from adaworld_gym.agents.rl_bench import RLBenchConfig, markdown_table, quick, run_rl_bench
from adaworld_gym.io import save_figure, write_json


def plot_curves(report: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    games = report["settings"]["games"]
    fig, axes = plt.subplots(1, len(games), figsize=(5 * len(games), 3.5), squeeze=False)
    for ax, game in zip(axes[0], games):
        for key, result in report["results"].items():
            if key.startswith(f"{game}/") and "curve" in result:
                ax.plot([h["steps"] for h in result["curve"]], [h["real_return"] for h in result["curve"]],
                        marker="o", label=key.split("/", 1)[1])
        ax.set(title=f"{game}: real-game return", xlabel="training steps", ylabel="return")
        ax.legend(fontsize=7)
    return save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", default="bigfish,starpilot,fruitbot")
    parser.add_argument("--budgets", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--sim-steps-per-budget", type=int, default=10)
    parser.add_argument("--world-model", type=Path, default=None, help="default: the shipped one")
    parser.add_argument("--finetune-steps", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "rl")
    args = parser.parse_args()
    config = RLBenchConfig(args.out, tuple(args.games.split(",")), tuple(args.budgets), args.sim_steps_per_budget,
                           args.world_model, args.finetune_steps, seed=args.seed, device=args.device)
    config = quick(config) if args.quick else config
    print("settings:", json.dumps({k: str(v) for k, v in vars(config).items()}))
    path = args.out / "rl.json"
    report = json.loads(path.read_text()) if path.exists() else None
    report = run_rl_bench(config, report, lambda r: write_json(path, r), progress=not args.quick)
    write_json(path, report)
    table = markdown_table(report)
    (args.out / "rl.md").write_text(table + "\n")
    plot_curves(report, args.out / "rl_curves.png")
    print(table)


if __name__ == "__main__":
    main()
