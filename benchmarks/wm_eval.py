"""World model quality on Procgen test levels: AdaWorld vs its three baselines, same code and budget.

    python benchmarks/wm_eval.py --model adaworld=runs/cmp-latent/model --model vq=runs/cmp-vq/model \
        --model flow=runs/cmp-flow/model --model action-agnostic=runs/cmp-none/model

Teacher-forced and open-loop PSNR/SSIM (1, 5, 10, 20, 50 steps), the action transfer score (an inverse-dynamics
judge trained on real transitions), controllability, and 200-step rollouts with collapse checks: `adaworld
eval-wm` with the same options (`WmEvalConfig`), writing to benchmarks/results/wm_eval by default.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from adaworld_gym.config_cli import config_command
from adaworld_gym.evaluation.configs import WmEvalConfig


def run(config: WmEvalConfig) -> None:
    from adaworld_gym.evaluation.wm_eval import markdown_summary, write_wm_report

    print("settings:", json.dumps(asdict(config), default=str))
    print(markdown_summary(write_wm_report(config)))


if __name__ == "__main__":
    typer.run(config_command(WmEvalConfig, run, defaults={"out": Path(__file__).parent / "results" / "wm_eval"}))
