"""Adaptation benchmark: pretrained on 12 Procgen games, adapted to 4 held-out ones from few interactions.

    adaworld collect --out data/fewshot200 --games bigfish,fruitbot,ninja,starpilot --per-action 200 --split train
    python benchmarks/adaptation.py --dataset data/fewshot200 \
        --method adaworld=runs/hold12-latent/model:average --method adaworld-random=runs/hold12-latent/model:random \
        --method action-agnostic=runs/hold12-none/model --method vq=runs/hold12-vq/model \
        --method flow=runs/hold12-flow/model --method scratch=runs/hold12-latent/model:scratch

Each method: the action table (averaged latent actions, or random rows), fine-tuned on N transitions per action
from training levels; open-loop PSNR/SSIM at 10 and 20 steps on test-level clips after each number of
fine-tuning steps. `--data-methods adaworld --data-sizes 25 50 200` repeats the named methods at other data sizes.
Writes adaptation.json (resumable: finished runs are skipped), adaptation.md and adaptation_curves.png to --out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from adaworld_gym.evaluation.adaptation_eval import (FINETUNE_STEPS, HELD_OUT_GAMES, AdaptationMethod, margins,
                                                     markdown_tables, plot_curves, run_adaptation_benchmark)
from adaworld_gym.io import write_json
from adaworld_gym.models.diffusion.sampler import SamplerConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", action="append", required=True, help="NAME=FOLDER[:average|random|scratch]")
    parser.add_argument("--dataset", type=Path, required=True, help="few-shot dataset of the held-out games")
    parser.add_argument("--games", default=",".join(HELD_OUT_GAMES))
    parser.add_argument("--per-action", type=int, default=100)
    parser.add_argument("--steps", type=int, nargs="+", default=list(FINETUNE_STEPS))
    parser.add_argument("--data-methods", nargs="*", default=[])
    parser.add_argument("--data-sizes", type=int, nargs="*", default=[25, 50, 200])
    parser.add_argument("--clips-per-game", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--denoising-steps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "adaptation")
    args = parser.parse_args()
    methods = [AdaptationMethod.parse(m) for m in args.method]
    print("settings:", json.dumps({**vars(args), "out": str(args.out), "dataset": str(args.dataset)}))
    path = args.out / "adaptation.json"
    report = json.loads(path.read_text()) if path.exists() else None
    report = run_adaptation_benchmark(
        methods, args.dataset, tuple(args.games.split(",")), per_action=(args.per_action,),
        data_methods=tuple(args.data_methods), data_sizes=tuple(args.data_sizes), steps=tuple(args.steps),
        clips_per_game=args.clips_per_game, batch_size=args.batch_size,
        sampler=SamplerConfig(num_steps=args.denoising_steps), seed=args.seed, device=args.device,
        report=report, save=lambda r: write_json(path, r))
    leader = methods[0].name
    report["margins_at_10_steps"] = margins(report, leader, tuple(m.name for m in methods[1:]))
    write_json(path, report)
    table = markdown_tables(report)
    (args.out / "adaptation.md").write_text(table + "\n")
    plot_curves(report, args.out / "adaptation_curves.png")
    print(table)
    print(f"margins of {leader} at 10 steps:", json.dumps(report["margins_at_10_steps"], indent=1))


if __name__ == "__main__":
    main()
