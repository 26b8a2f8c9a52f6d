"""Adaptation benchmark: a pretrained world model adapted to environments it never saw, from few interactions.

Procgen (issue: pretrained on 12 games, 4 held out):
    adaworld collect --out data/fewshot200 --games bigfish,fruitbot,ninja,starpilot --per-action 200 --split train
    python benchmarks/adaptation.py --dataset data/fewshot200 --per-action 100 \
        --method adaworld=runs/hold12-latent/model --method adaworld-random=runs/hold12-latent/model:random \
        --method action-agnostic=runs/hold12-none/model --method vq=runs/hold12-vq/model \
        --method flow=runs/hold12-flow/model --method scratch=runs/hold12-latent/model:scratch \
        --data-methods adaworld --data-sizes 25 50 200
Any Gymnasium pixel environment (the few-shot and test data are collected here):
    python benchmarks/adaptation.py --env CarRacing-v3 --per-action 100 --method ... --out results/carracing

Each method: the action map (averaged latent actions / fitted MLP, or random), fine-tuned on the few-shot data;
after each number of fine-tuning steps, counterfactual move accuracy (Procgen: each move held 1 and 3 steps from
saved test states, the lead metric) and open-loop PSNR/SSIM at 10 and 20 steps on test clips with their real
actions. `--data-methods` repeats the named methods with the first N transitions of each action (discrete only).
Writes adaptation.json (resumable: finished runs are skipped), adaptation.md and adaptation_curves.png to --out.
A game's test clips are drawn with --seed plus its position in --games, so resume with the games listed as before:
a resume that would score runs differently (other clips, steps, sampler, batch, learning rates, or a method name
pointing elsewhere) is refused instead of mixed into the report.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from adaworld_gym.evaluation.adaptation_eval import (FINETUNE_STEPS, HELD_OUT_GAMES, AdaptationMethod, env_task,
                                                     margins, margins_table, markdown_tables, plot_curves,
                                                     procgen_task, run_adaptation_benchmark)
from adaworld_gym.io import write_json, write_report
from adaworld_gym.models.diffusion.sampler import SamplerConfig
from adaworld_gym.models.world_model import WorldModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", action="append", required=True, help="NAME=FOLDER[:average|random|scratch]")
    parser.add_argument("--dataset", type=Path, help="few-shot dataset of Procgen games (all 15 actions)")
    parser.add_argument("--games", default=",".join(HELD_OUT_GAMES), help="Procgen games of --dataset")
    parser.add_argument("--env", action="append", default=[], help="Gymnasium env id instead of --dataset")
    parser.add_argument("--env-kwargs", default="{}", help="JSON keyword arguments for every --env")
    parser.add_argument("--obs-key", help="the RGB image entry of every --env's Dict observations")
    parser.add_argument("--per-action", type=int, default=100)
    parser.add_argument("--steps", type=int, nargs="+", default=list(FINETUNE_STEPS))
    parser.add_argument("--data-methods", nargs="*", default=[])
    parser.add_argument("--data-sizes", type=int, nargs="*", default=[25, 50, 200])
    parser.add_argument("--clips", type=int, default=16, help="test clips per game")
    parser.add_argument("--counterfactual-states", type=int, default=16,
                        help="saved test states per Procgen game for counterfactual move accuracy (0: skip)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4, help="denoiser learning rate (the action map: 10x)")
    parser.add_argument("--scratch-lr", type=float, default=3e-4)
    parser.add_argument("--denoising-steps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "adaptation")
    args = parser.parse_args()
    if (args.dataset is None) == (not args.env):
        parser.error("give either --dataset (Procgen) or --env")
    methods = [AdaptationMethod.parse(m) for m in args.method]
    print("settings:", json.dumps({**vars(args), "out": str(args.out), "dataset": str(args.dataset)}))
    memory = WorldModel.from_pretrained(methods[0].world_model).memory
    if args.dataset is not None:
        tasks = [procgen_task(args.dataset, game, memory, args.clips, args.seed + g, args.counterfactual_states)
                 for g, game in enumerate(args.games.split(","))]
    else:
        tasks = [env_task(env_id, json.loads(args.env_kwargs), args.per_action, memory, args.clips, args.seed,
                          args.obs_key) for env_id in args.env]
    path = args.out / "adaptation.json"
    report = json.loads(path.read_text()) if path.exists() else None
    report = run_adaptation_benchmark(
        methods, tasks, args.per_action, data_methods=tuple(args.data_methods), data_sizes=tuple(args.data_sizes),
        steps=tuple(args.steps), batch_size=args.batch_size, lr=args.lr, scratch_lr=args.scratch_lr,
        sampler=SamplerConfig(num_steps=args.denoising_steps),
        seed=args.seed, device=args.device, report=report, save=lambda r: write_json(path, r))
    leader = methods[0].name
    report["margins_at_10_steps"] = margins(report, leader, tuple(m.name for m in methods[1:]))
    table = markdown_tables(report)
    if report["margins_at_10_steps"]:
        table += "\n\n" + "\n".join(margins_table(report["margins_at_10_steps"], leader))
    write_report(args.out, "adaptation", report, [table])
    plot_curves(report, args.out / "adaptation_curves.png")
    print(table)
    print(f"margins of {leader} at 10 steps:", json.dumps(report["margins_at_10_steps"], indent=1))


if __name__ == "__main__":
    main()
