"""The beta trade-off of the latent action model: information about the action vs context invariance.

    python benchmarks/lam_beta_sweep.py [--betas 2e-5 2e-4 2e-3] [--steps 2500] [--preset cpu] [--quick]

Trains one model per beta with the same data stream, seed and (shortened) schedule, evaluates each on test
levels, and writes `beta_sweep.json` and `beta_sweep.md` to --out. Smaller beta should give latents that
separate actions better within a game but transfer worse across games (AdaWorld section 1).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from adaworld_gym.envs.procgen_games import PROCGEN_GAMES
from adaworld_gym.evaluation.lam_eval import evaluate_lam
from adaworld_gym.models.latent_action import LatentActionModel
from adaworld_gym.training.train_lam import LamTrainConfig, train_lam


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--betas", type=float, nargs="+", default=[2e-5, 2e-4, 2e-3])
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--steps", type=int, default=2500)
    parser.add_argument("--pairs-per-game", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=Path, default=Path("runs/beta-sweep"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "beta_sweep")
    parser.add_argument("--quick", action="store_true", help="tiny model, few steps, 2 games: checks it runs")
    args = parser.parse_args()
    games = ["maze", "heist"] if args.quick else list(PROCGEN_GAMES)
    if args.quick:
        args.preset, args.steps, args.pairs_per_game = "tiny", 4, 30
    # The default schedule keeps the KL off for 2000 steps; a short sweep scales that to a fifth each way.
    free = warmup = args.steps // 5
    settings = {"betas": args.betas, "preset": args.preset, "steps": args.steps, "kl_free_steps": free,
                "kl_warmup_steps": warmup, "games": games, "pairs_per_game": args.pairs_per_game, "seed": args.seed,
                "data": "live Procgen stream, train levels, held-random policy"}
    print("settings:", json.dumps(settings))
    rows = []
    for beta in args.betas:
        run = args.runs / f"beta_{beta:g}"
        config = LamTrainConfig(out=run, preset=args.preset, steps=args.steps, games=games, beta=beta,
                                kl_free_steps=free, kl_warmup_steps=warmup, seed=args.seed,
                                num_workers=0 if args.quick else 1)
        model = LatentActionModel.from_pretrained(train_lam(config, progress=not args.quick))
        report = evaluate_lam(model, games, args.pairs_per_game, ks=(8,), seed=args.seed)
        info, ctrl = report["action_information"], report["controllability"]
        rows.append({"beta": beta,
                     "probe_moves_noop": float(np.nanmean([g["moves_noop"]["probe"] for g in info["per_game"].values()])),
                     "probe_all15": float(np.nanmean([g["all15"]["probe"] for g in info["per_game"].values()])),
                     "cross_game_probe_moves_noop": info["cross_game_moves_noop"]["probe"],
                     "reconstruction_psnr": ctrl["reconstruction_psnr"], "delta_psnr": ctrl["delta_psnr"]})
    table = ["| beta | probe moves+noop (within game) | probe all 15 | cross-game probe moves+noop | "
             "recon PSNR | delta-PSNR |", "|---|---|---|---|---|---|"]
    table += [f"| {r['beta']:g} | {r['probe_moves_noop']:.1%} | {r['probe_all15']:.1%} | "
              f"{r['cross_game_probe_moves_noop']:.1%} | {r['reconstruction_psnr']:.2f} dB | {r['delta_psnr']:+.2f} dB |"
              for r in rows]
    markdown = "\n".join(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "beta_sweep.json").write_text(json.dumps({"settings": settings, "results": rows}, indent=2) + "\n")
    (args.out / "beta_sweep.md").write_text(f"Settings: {json.dumps(settings)}\n\n{markdown}\n")
    print(markdown)


if __name__ == "__main__":
    main()
