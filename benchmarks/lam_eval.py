"""Latent action quality of a trained model, on Procgen test levels (0-999).

    python benchmarks/lam_eval.py --model runs/lam-cpu/model [--games all] [--pairs-per-game 2400]

Writes `lam_eval.json`, `lam_eval.md` and `lam_map.png` (t-SNE of latents by action and by game) to --out:
`adaworld eval-lam` with the same options (`LamEvalConfig`), writing to benchmarks/results/lam_eval by default.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from adaworld_gym.config_cli import config_command
from adaworld_gym.evaluation.configs import LamEvalConfig


def run(config: LamEvalConfig) -> None:
    from adaworld_gym.evaluation.lam_eval import markdown_summary, write_lam_report

    print("settings:", json.dumps(asdict(config), default=str))
    print(markdown_summary(write_lam_report(config)))


if __name__ == "__main__":
    typer.run(config_command(LamEvalConfig, run, defaults={"out": Path(__file__).parent / "results" / "lam_eval"}))
