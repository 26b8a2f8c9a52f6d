"""Latent action quality of a trained model, on Procgen test levels (0-999).

    python benchmarks/lam_eval.py --model runs/lam-cpu/model [--games all] [--pairs-per-game 2400]

Writes `lam_eval.json`, `lam_eval.md` and `lam_map.png` (t-SNE of latents by action and by game) to --out.
The same as `adaworld eval-lam`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from adaworld_gym.envs.procgen_games import PROCGEN_GAMES
from adaworld_gym.evaluation.lam_eval import markdown_summary, write_lam_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="exported latent action model folder")
    parser.add_argument("--games", default="all", help="comma-separated Procgen games, or 'all'")
    # About a third of the pairs are moves+noop and half of those are probe test data: at 600 per game the 16
    # games had 26-114 visible test moves each (62 in maze: a standard error of ~5 points); 2400 gives 4x that.
    parser.add_argument("--pairs-per-game", type=int, default=2400)
    parser.add_argument("--ks", type=int, nargs="+", default=[4, 8, 12], help="sizes of k-means control options")
    parser.add_argument("--controllability-pairs", type=int, default=2048,
                        help="random subset of pairs for reconstruction and delta-PSNR (each costs 8 decodes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "lam_eval")
    args = parser.parse_args()
    games = list(PROCGEN_GAMES) if args.games == "all" else args.games.split(",")
    print("settings:", json.dumps({"model": str(args.model), "games": games, "pairs_per_game": args.pairs_per_game,
                                   "ks": args.ks, "controllability_pairs": args.controllability_pairs,
                                   "seed": args.seed}))
    report = write_lam_report(args.model, games, args.out, args.pairs_per_game, tuple(args.ks), args.seed,
                              args.controllability_pairs)
    print(markdown_summary(report))


if __name__ == "__main__":
    main()
