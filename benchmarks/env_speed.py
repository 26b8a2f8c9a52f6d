"""Simulator speed through the Gymnasium API, next to the real game in the same run.

    python benchmarks/env_speed.py [--games coinrun,maze] [--world-model F --adapters D] [--denoising-steps 1]

For each game: `gym.make("AdaWorld-Procgen-v0")` stepped one action at a time (batch 1) and
`gym.make_vec("AdaWorld-Procgen-v0", num_envs=N)` (N copies, one forward pass a step), then `ProcgenReal-v0` the
same two ways, with uniformly random actions from a seeded action space. Steps/s counts environment steps (N per
vector step). Writes `env_speed.json` and `env_speed.md`; issue 28's targets: >= 30 steps/s at batch 1 and >= 300
with `make_vec(64)` on 2 CPU cores.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import typer

from adaworld_gym.config_cli import config_command


@dataclass
class EnvSpeedConfig:
    """Simulator steps/s through gym.make and gym.make_vec, next to the real game."""

    games: list[str] = field(default_factory=lambda: ["coinrun", "maze"])  # Procgen games
    world_model: Path | None = None  # world model folder; none: the shipped wm-cpu
    adapters: Path | None = None  # folder of <game>-<actions> adapters; none: the shipped ones
    actions: str = "full"  # Procgen action subset of the adapters
    denoising_steps: int = 3  # the simulator's sampler steps per frame
    num_envs: int = 64  # copies of the vector envs
    steps: int = 30  # timed steps per measurement (after 3 untimed ones)
    seed: int = 0  # seeds the resets and the random actions
    out: Path = Path(__file__).parent / "results" / "env_speed"  # folder for env_speed.json and env_speed.md


def steps_per_second(env, steps: int, num_envs: int, seed: int) -> float:
    """Environment steps per second of `env` (a gym.Env, or a vector env of `num_envs`) under random actions."""
    env.action_space.seed(seed)
    env.reset(seed=seed)
    for _ in range(3):  # first steps allocate and warm caches
        env.step(env.action_space.sample())
    start = time.perf_counter()
    for _ in range(steps):
        env.step(env.action_space.sample())
    seconds = time.perf_counter() - start
    env.close()
    return steps * num_envs / seconds


def run(config: EnvSpeedConfig) -> None:
    import gymnasium as gym
    import torch

    import adaworld_gym  # noqa: F401  (registers the environments)

    print("settings:", json.dumps(asdict(config), default=str))
    rows = []
    for game in config.games:
        adapter = config.adapters / f"{game}-{config.actions}" if config.adapters else None
        sim = dict(game=game, actions=config.actions, adapter=adapter, world_model=config.world_model,
                   denoising_steps=config.denoising_steps, device="cpu")
        real = dict(game=game, actions=config.actions)
        row = {"game": game,
               "sim_1": steps_per_second(gym.make("AdaWorld-Procgen-v0", **sim), config.steps, 1, config.seed),
               "sim_vec": steps_per_second(gym.make_vec("AdaWorld-Procgen-v0", num_envs=config.num_envs, **sim),
                                           config.steps, config.num_envs, config.seed),
               "real_1": steps_per_second(gym.make("ProcgenReal-v0", **real), config.steps, 1, config.seed),
               "real_vec": steps_per_second(gym.make_vec("ProcgenReal-v0", num_envs=config.num_envs, **real),
                                            config.steps, config.num_envs, config.seed)}
        rows.append(row)
        print(json.dumps(row))
    n = config.num_envs
    lines = [f"Steps/s through the Gymnasium API, {config.denoising_steps} denoising steps, {torch.get_num_threads()} "
             f"torch threads, {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}); "
             f"world model {config.world_model or 'shipped wm-cpu'}.", "",
             f"| game | simulator, batch 1 | simulator, make_vec({n}) | real, batch 1 | real, make_vec({n}) | "
             "real / simulator at batch 1 |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['game']} | {r['sim_1']:.1f} | {r['sim_vec']:.1f} | {r['real_1']:.0f} | {r['real_vec']:.0f} | "
              f"{r['real_1'] / r['sim_1']:.0f}x |" for r in rows]
    from adaworld_gym.io import write_report

    write_report(config.out, "env_speed", {"settings": json.loads(json.dumps(asdict(config), default=str)),
                                           "rows": rows}, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    typer.run(config_command(EnvSpeedConfig, run))
