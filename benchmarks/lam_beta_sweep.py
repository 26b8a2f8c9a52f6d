"""The beta trade-off of the latent action model: information about the action vs context invariance.

    python benchmarks/lam_beta_sweep.py [--betas 2e-5 2e-4 2e-3] [--steps 2000] [--preset cpu] [--quick]

Trains one model per beta with the same data stream, seed and (shortened) schedule (a finished run in --runs is
reused, an interrupted one resumes), scores all of them on the same test-level transitions, and writes
`beta_sweep.json` and `beta_sweep.md` to --out. Smaller beta should give latents that hold more of the move
within a game but mean it less alike across games (AdaWorld section 1); the table puts the probe on each game's
visible moves (within game) next to the probe fitted on the other games (across games), with the nats the
bottleneck lets through.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from adaworld_gym.envs.procgen_games import PROCGEN_GAMES
from adaworld_gym.evaluation.lam_eval import evaluate_lam, test_transitions
from adaworld_gym.io import write_report
from adaworld_gym.models.latent_action import LatentActionModel
from adaworld_gym.training.train_lam import LamTrainConfig, train_lam


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--betas", type=float, nargs="+", default=[2e-5, 2e-4, 2e-3])
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    # 2,400 per game is lam_eval's default: the same test transitions as the shipped model's report.
    parser.add_argument("--pairs-per-game", type=int, default=2400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=Path, default=Path("runs/beta-sweep"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "beta_sweep_cpu")
    parser.add_argument("--quick", action="store_true", help="tiny model, few steps, 2 games: checks it runs")
    args = parser.parse_args()
    games = ["maze", "heist"] if args.quick else list(PROCGEN_GAMES)
    if args.quick:
        args.preset, args.steps, args.pairs_per_game = "tiny", 4, 30
    # The default schedule keeps the KL off for 2000 steps; a short sweep scales that to a fifth each way.
    free = warmup = args.steps // 5
    settings = {"betas": args.betas, "preset": args.preset, "steps": args.steps, "batch_size": args.batch_size,
                "kl_free_steps": free, "kl_warmup_steps": warmup, "games": games,
                "pairs_per_game": args.pairs_per_game, "seed": args.seed,
                "data": "live Procgen stream, train levels, held-random policy; scored on test levels 0-999"}
    print("settings:", json.dumps(settings))
    data = test_transitions(games, args.pairs_per_game, seed=args.seed)
    rows = []
    for beta in args.betas:
        config = LamTrainConfig(out=args.runs / f"beta_{beta:g}", preset=args.preset, steps=args.steps,
                                batch_size=args.batch_size, games=games, beta=beta, kl_free_steps=free,
                                kl_warmup_steps=warmup, seed=args.seed, num_workers=0 if args.quick else 1)
        model = LatentActionModel.from_pretrained(train_lam(config, progress=not args.quick))
        report = evaluate_lam(model, games, args.pairs_per_game, ks=(8,), seed=args.seed, data=data)
        rows.append(sweep_row(beta, report, model.metadata))
        print(json.dumps(rows[-1]), flush=True)
    table = markdown(rows, settings)
    write_report(args.out, "beta_sweep", {"settings": settings, "results": rows}, table)
    print("\n".join(table))


def sweep_row(beta: float, report: dict, metadata: dict) -> dict:
    """The numbers of one model that the trade-off is read from."""
    per_game = report["action_information"]["per_game"]
    visible = {game: s["moves_noop_visible"]["probe"] for game, s in per_game.items()}
    mean = lambda key: float(np.nanmean([s[key]["probe"] for s in per_game.values()]))
    ctrl = report["controllability"]
    return {"beta": beta, "kl_nats": report["latent_kl_nats"],
            "probe_visible_moves": mean("moves_noop_visible"),
            "probe_visible_moves_other_games": mean("moves_noop_visible_other_games"),
            "probe_visible_moves_maze": visible.get("maze"), "probe_visible_moves_heist": visible.get("heist"),
            "probe_moves_noop": mean("moves_noop"), "probe_all15": mean("all15"),
            "cross_game_halves_moves_noop": report["action_information"]["cross_game_moves_noop"]["probe"],
            "reconstruction_psnr": ctrl["reconstruction_psnr"], "delta_psnr": ctrl["delta_psnr"],
            "delta_psnr_k8": ctrl["control_options"]["8"], "trained_seconds": metadata.get("trained_seconds")}


def markdown(rows: list[dict], settings: dict) -> list[str]:
    percent = lambda v: "-" if v is None or np.isnan(v) else f"{v:.1%}"
    lines = [f"Settings: {json.dumps(settings)}", "",
             "| beta | KL (nats) | probe visible moves, own game (maze / heist) | the same, probe fit on the other "
             "games | probe all 15 | cross-game halves, moves+noop | recon PSNR | delta-PSNR (k=8 options) |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['beta']:g} | {r['kl_nats']:.2f} | {percent(r['probe_visible_moves'])} "
              f"({percent(r['probe_visible_moves_maze'])} / {percent(r['probe_visible_moves_heist'])}) | "
              f"{percent(r['probe_visible_moves_other_games'])} | {percent(r['probe_all15'])} | "
              f"{percent(r['cross_game_halves_moves_noop'])} | {r['reconstruction_psnr']:.2f} dB | "
              f"{r['delta_psnr']:+.2f} dB ({r['delta_psnr_k8']:+.2f} dB) |" for r in rows]
    lines += ["", "chance: 20% (moves+noop), 6.7% (all 15); 'visible moves': moves+noop whose next frame differs from "
              "every other move's (save/restore in the real game)"]
    return lines


if __name__ == "__main__":
    main()
