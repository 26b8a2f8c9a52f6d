"""How much of what latent actions can tell a pretrained world model does AdaWorld's averaged action table pass on?

    python benchmarks/action_table_ceiling.py --dataset data/fewshot200 \
        --model adaworld=runs/gpu-hold12/wm-latent/model --model action-agnostic=runs/gpu-hold12/wm-none/model

For each held-out game and model, before any fine-tuning, open-loop PSNR / SSIM at 1, 5, 10 and 20 steps on the
adaptation benchmark's test clips (same games, same seeds: test levels, held-random play) with four conditions:
zeros, one mean latent action for every action, the averaged table (a mean per action: AdaWorld's start), and the
latent actions of the very transitions being predicted (the ceiling). An action-agnostic model ignores its
condition, so its rows are its reference. Writes action_table_ceiling.json and .md to --out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from adaworld_gym.adaptation.adapt import limit_per_action
from adaworld_gym.evaluation.adaptation_eval import CEILING_VARIANTS, HELD_OUT_GAMES, condition_ceiling, procgen_task
from adaworld_gym.io import write_report
from adaworld_gym.models.diffusion.sampler import SamplerConfig
from adaworld_gym.models.world_model import WorldModel

HORIZONS = (1, 5, 10, 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="NAME=WORLD_MODEL_FOLDER (repeatable)")
    parser.add_argument("--dataset", type=Path, required=True, help="few-shot dataset of Procgen games (all 15 actions)")
    parser.add_argument("--games", default=",".join(HELD_OUT_GAMES))
    parser.add_argument("--per-action", type=int, default=100)
    parser.add_argument("--clips", type=int, default=16, help="test clips per game")
    parser.add_argument("--denoising-steps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "action_table_ceiling")
    args = parser.parse_args()
    settings = {k: str(v) for k, v in vars(args).items()}
    print("settings:", json.dumps(settings))
    models = dict(spec.split("=", 1) for spec in args.model)
    sampler = SamplerConfig(num_steps=args.denoising_steps)
    report = {"settings": settings, "horizons": list(HORIZONS), "runs": {}}
    lines = ["| game | model | condition | PSNR at " + " / ".join(map(str, HORIZONS)) + " steps (dB) |",
             "|---|---|---|---|"]
    for g, game in enumerate(args.games.split(",")):
        for name, folder in models.items():
            world = WorldModel.from_pretrained(folder)
            # The adaptation benchmark's clips of this game (its seed + game index).
            task = procgen_task(args.dataset, game, world.memory, args.clips, args.seed + g, counterfactual_states=0)
            scores = condition_ceiling(world, limit_per_action(task.data, args.per_action), task.space, task.frames,
                                       task.actions, HORIZONS, sampler, args.seed)
            report["runs"][f"{game}/{name}"] = scores
            for variant in CEILING_VARIANTS:
                psnr = " / ".join(f"{scores[variant]['psnr'][str(h)]:.2f}" for h in HORIZONS)
                lines.append(f"| {game} | {name} | {variant} | {psnr} |")
                print(lines[-1], flush=True)
    write_report(args.out, "action_table_ceiling", report, lines)


if __name__ == "__main__":
    main()
