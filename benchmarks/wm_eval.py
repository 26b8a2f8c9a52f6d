"""World model quality on Procgen test levels: AdaWorld vs its three baselines, same code and budget.

    python benchmarks/wm_eval.py --model adaworld=runs/cmp-latent/model --model vq=runs/cmp-vq/model \
        --model flow=runs/cmp-flow/model --model action-agnostic=runs/cmp-none/model

Teacher-forced and open-loop PSNR/SSIM (1, 5, 10, 20, 50 steps), the action transfer score (an inverse-dynamics
judge trained on real transitions), and 200-step rollouts with collapse checks. The same as `adaworld eval-wm`.
Writes `wm_eval.json`, `wm_eval.md` and `wm_curves.png` to --out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from adaworld_gym.envs.procgen_games import PROCGEN_GAMES
from adaworld_gym.evaluation.wm_eval import markdown_summary, write_wm_report
from adaworld_gym.models.diffusion.sampler import SamplerConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="NAME=FOLDER, repeatable")
    parser.add_argument("--games", default="all")
    parser.add_argument("--clips-per-game", type=int, default=4)
    parser.add_argument("--transfer-per-game", type=int, default=32)
    parser.add_argument("--long-steps", type=int, default=200)
    parser.add_argument("--denoising-steps", type=int, default=3)
    parser.add_argument("--guidance-scale", type=float, default=1.0, help="classifier-free guidance (1: none)")
    parser.add_argument("--memory-noise", type=float, default=0.0,
                        help="noise level added to the memory at every sampling step (the model is told it)")
    parser.add_argument("--baseline", default=None,
                        help="NAME of one of the models: every other model's margins over it, with standard errors")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--judge-cache", type=Path, default=None,
                        help="folder to keep the transfer judges in and reuse them from (same settings only)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "wm_eval")
    args = parser.parse_args()
    folders = dict(item.split("=", 1) for item in args.model)
    games = list(PROCGEN_GAMES) if args.games == "all" else args.games.split(",")
    print("settings:", json.dumps({**vars(args), "games": games}, default=str))
    sampler = SamplerConfig(num_steps=args.denoising_steps, guidance_scale=args.guidance_scale,
                            memory_noise=args.memory_noise)
    report = write_wm_report({k: Path(v) for k, v in folders.items()}, args.out, games,
                             clips_per_game=args.clips_per_game, transfer_per_game=args.transfer_per_game,
                             long_steps=args.long_steps, sampler=sampler, seed=args.seed,
                             judge_cache=args.judge_cache, baseline=args.baseline)
    print(markdown_summary(report))


if __name__ == "__main__":
    main()
