"""Controllability: does each move do in the simulator what it does in the real game? (issue 28)

    python benchmarks/controllability.py [--simulator NAME=WORLD_MODEL[,ADAPTERS]] ... [--games maze,heist,...]
        [--states 16] [--clips 8] [--out benchmarks/results/controllability]

For every game: `--states` saved states of test levels, each move held 1, 3 and 8 steps in the real game and,
from the same 6 frames, in every stage of each simulator's chain (its latent action model's decoder and its
world model given the true latents of the real transitions, and the simulator given the action through its
"moves" adapter); then open-loop rollouts of held-random test clips driven by the real actions (its "full"
adapters), by shuffled actions, and the repeat-last-frame baseline. Default simulator: the shipped world model
with the shipped adapters. Writes controllability.json / .md and controllability_<name>.png (rows: states; columns:
last real frame, the 4 real outcomes after 3 steps, the 4 imagined ones).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from adaworld_gym.adaptation.simulator import AdaptedSimulator
from adaworld_gym.data.branches import MOVES, real_branches
from adaworld_gym.data.clips import test_clips
from adaworld_gym.evaluation.controllability import (GAMES, HOLDS, OPEN_LOOP_HORIZONS, contact_rows, controllability,
                                                     lam_decoder_predictor, open_loop, pooled, real_predictor,
                                                     simulator_predictor, world_model_predictor)
from adaworld_gym.evaluation.metrics import psnr_of_mse
from adaworld_gym.io import write_report
from adaworld_gym.models.conditions import LatentActionCondition
from adaworld_gym.models.diffusion.sampler import SamplerConfig
from adaworld_gym.models.latent_action import LatentActionModel
from adaworld_gym.models.world_model import WorldModel
from adaworld_gym.simulator.loading import resolve_device
from adaworld_gym.video import contact_sheet
from adaworld_gym.weights import WEIGHTS_DIR, pretrained_path

GRID_HOLD = 3


def parse_simulator(spec: str) -> tuple[str, Path, Path | None]:
    name, sep, rest = spec.partition("=")
    if not sep or not name or not rest:
        raise SystemExit(f"--simulator wants NAME=WORLD_MODEL[,ADAPTERS], got {spec!r}")
    world, _, adapters = rest.partition(",")
    if adapters == "-":  # no adapters: the chain's first stages only
        return name, Path(world), None
    if not adapters and Path(world).resolve() != pretrained_path("wm-cpu").resolve():
        raise SystemExit(f"--simulator {spec}: name the adapters made for this world model (NAME=WORLD,ADAPTERS), "
                         "or ',-' for none; the shipped adapters fit the shipped world model only")
    return name, Path(world), Path(adapters) if adapters else WEIGHTS_DIR / "adapters"


def load_adapter(adapters: Path, game: str, subset: str, world: WorldModel) -> AdaptedSimulator:
    folder = adapters / f"{game}-{subset}"
    if not folder.is_dir():
        raise SystemExit(f"{folder}: no adapter for {game} ({subset}); make one with adaworld adapt")
    return AdaptedSimulator.from_pretrained(folder, world, game=game, actions=subset)


def table(report: dict) -> list[str]:
    games, rows = report["settings"]["games"], report["rows"]
    lines = [f"Counterfactual move accuracy at H = {', '.join(map(str, HOLDS))} steps held (right / scored), test "
             f"levels, {report['settings']['states']} states per game, chance 25%.", "",
             "| row | " + " | ".join(f"H={h}" for h in HOLDS) + " | sensitivity H=3 (pixel MSE across moves) |",
             "|---|" + "---|" * (len(HOLDS) + 1)]
    for name, scores in report["pooled"].items():
        cells = [f"{s['accuracy']:.1%} ({s['right']}/{s['scored']}; min game {s['min_accuracy']:.0%})"
                 if s["scored"] else "- (0 scored)" for s in (scores[str(h)] for h in HOLDS)]
        sensitivity = scores["3"]["sensitivity"]
        shown = "-" if sensitivity is None else f"{sensitivity:.1f}"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {shown} |")
    lines += ["", "Per game, H = 3:", "", "| row | " + " | ".join(games) + " |", "|---|" + "---|" * len(games)]
    for name in report["pooled"]:
        cells = []
        for g in games:
            s = rows[name][g]["3"]
            cells.append("-" if s["accuracy"] is None else f"{s['accuracy']:.0%} ({s['scored']})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", f"Open loop, PSNR (dB, of the mean squared error over games) / SSIM (mean) at "
              f"{', '.join(map(str, OPEN_LOOP_HORIZONS))} steps, {report['settings']['clips']} held-random test clips "
              "per game:", "",
              "| row | " + " | ".join(f"{h}" for h in OPEN_LOOP_HORIZONS) + " |",
              "|---|" + "---|" * len(OPEN_LOOP_HORIZONS)]
    for name, scores in report["open_loop_mean"].items():
        lines.append(f"| {name} | " + " | ".join(f"{scores['psnr'][str(h)]:.2f} / {scores['ssim'][str(h)]:.3f}"
                                                 for h in OPEN_LOOP_HORIZONS) + " |")
    return lines


def open_loop_mean(open_rows: dict[str, dict[str, dict]]) -> dict[str, dict]:
    """Over games: PSNR of the mean squared error (a game whose frames do not change at all scores an infinite
    PSNR for the repeated frame, which a mean of PSNRs would let dominate) and the mean SSIM."""
    return {row: {"psnr": {str(h): psnr_of_mse(float(np.mean([g["mse"][str(h)] for g in per_game.values()])))
                           for h in OPEN_LOOP_HORIZONS},
                  "ssim": {str(h): float(np.mean([g["ssim"][str(h)] for g in per_game.values()]))
                           for h in OPEN_LOOP_HORIZONS}}
            for row, per_game in open_rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--simulator", action="append", default=None,
                        help="NAME=WORLD_MODEL[,ADAPTERS] (ADAPTERS holds <game>-moves and <game>-full; default "
                             "the shipped ones, for the shipped world model only; '-': none, only the latent action "
                             "model and world model rows); "
                             "repeat to compare; default: shipped=the shipped world model")
    parser.add_argument("--lam", action="append", default=[],
                        help="NAME=LATENT_ACTION_MODEL: also a latent action model alone (its decoder row)")
    parser.add_argument("--games", default=",".join(GAMES))
    parser.add_argument("--states", type=int, default=16, help="saved test-level states per game")
    parser.add_argument("--clips", type=int, default=8, help="open-loop clips per game (0 skips open loop)")
    parser.add_argument("--denoising-steps", type=int, default=3, help="sampler steps per frame")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/controllability"))
    args = parser.parse_args()
    specs = [parse_simulator(s) for s in (args.simulator or [f"shipped={pretrained_path('wm-cpu')}"])]
    games = [g for g in args.games.split(",") if g]
    device = resolve_device(args.device)
    sampler = SamplerConfig(num_steps=args.denoising_steps)
    torch.manual_seed(args.seed)
    settings = {"simulators": {n: [str(w), str(a) if a else None] for n, w, a in specs}, "games": games,
                "states": args.states,
                "clips": args.clips, "holds": list(HOLDS), "open_loop_horizons": list(OPEN_LOOP_HORIZONS),
                "moves": list(MOVES), "seed": args.seed, "sampler": vars(sampler),
                "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
                "machine": platform.machine(), "torch": torch.__version__, "device": str(device)}
    print("settings:", json.dumps(settings))
    worlds = {n: WorldModel.from_pretrained(w, device=device) for n, w, _ in specs}
    lams = {name: LatentActionModel.from_pretrained(folder, device=device)
            for name, _, folder in (spec.partition("=") for spec in args.lam)}
    settings["lams"] = args.lam
    adapters = {n: a for n, _, a in specs}
    rows: dict[str, dict[str, dict]] = {"real": {}}
    grids: dict[str, list[np.ndarray]] = {n: [] for n in worlds}
    open_rows: dict[str, dict[str, dict]] = {}
    started = time.perf_counter()
    for game in games:
        branches = real_branches(game, args.states, memory=6, hold=max(HOLDS), seed=args.seed)
        rows["real"][game] = controllability(branches, real_predictor(branches))
        for name, lam in lams.items():
            rows.setdefault(f"{name}: lam decoder (true latents)", {})[game] = controllability(
                branches, lam_decoder_predictor(lam)(branches))
        for name, world in worlds.items():
            stages = {}
            if isinstance(world.condition, LatentActionCondition):
                stages[f"{name}: lam decoder (true latents)"] = lam_decoder_predictor(world.condition.model)
            if world.condition.kind != "none":
                stages[f"{name}: world model (true latents)"] = world_model_predictor(world, args.seed, sampler)
            if adapters[name] is not None:
                moves = load_adapter(adapters[name], game, "moves", world)
                stages[f"{name}: simulator (action)"] = simulator_predictor(moves, args.seed, sampler)
            for row, predict in stages.items():
                imagined = predict(branches)
                rows.setdefault(row, {})[game] = controllability(branches, imagined)
                if row.endswith("simulator (action)"):
                    grids[name].append(contact_rows(branches, imagined, GRID_HOLD, rows=2))
            if args.clips and adapters[name] is not None:
                full = load_adapter(adapters[name], game, "full", world)
                # actions: indices of the 15 combos, which are the "full" adapter's actions
                clips, actions = test_clips([game], args.clips, world.memory + max(OPEN_LOOP_HORIZONS),
                                            seed=args.seed)
                scores_by_row = open_loop(clips, actions, full, world.memory, seed=args.seed, sampler=sampler)
                for row, scores in scores_by_row.items():
                    key = row if row == "repeat last frame" else f"{name}: {row}"
                    open_rows.setdefault(key, {})[game] = scores
        print(f"{game}: " + ", ".join(f"{r} {rows[r][game]['3']['accuracy'] or 0:.0%}" for r in rows
                                      if game in rows[r]), flush=True)
    open_mean = open_loop_mean(open_rows)
    report = {"settings": settings, "rows": rows, "pooled": {r: pooled(v) for r, v in rows.items()},
              "open_loop": open_rows, "open_loop_mean": open_mean,
              "seconds": round(time.perf_counter() - started)}
    lines = table(report)
    write_report(args.out, "controllability", report, lines)
    for name, picked in grids.items():
        if not picked:  # no adapters: no simulator row to draw
            continue
        frames = np.concatenate(picked).reshape(-1, *picked[0].shape[2:])
        contact_sheet(frames, args.out / f"controllability_{name}.png", columns=9, max_frames=len(frames), scale=1)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
