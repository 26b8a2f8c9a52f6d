"""RL in imagination vs in the real game, at equal real interactions (the point of a learned simulator).

For each game and budget B of real interactions:
  (a) sim: B real steps of random play become the few-shot data (B / 15 per action); the pretrained world model
      is adapted to them (action table, fine-tuning, reward model), and PPO trains in the simulator for
      `sim_steps_per_budget * B` imagined steps;
  (b) real: PPO trains on the real game for B steps;
  (c) real x10: PPO trains on the real game for 10 B steps;
and the random policy is the floor. Every agent is scored by its mean return on the same real test levels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from adaworld_gym.adaptation.adapt import adapt
from adaworld_gym.adaptation.configs import REWARD_STEPS
from adaworld_gym.agents.configs import AgentConfig
from adaworld_gym.agents.train_agent import real_returns, train_agent
from adaworld_gym.data import CollectConfig, collect
from adaworld_gym.envs.procgen_games import episode_timeout
from adaworld_gym.models.world_model import WorldModel
from adaworld_gym.weights import pretrained_path

RL_GAMES = ("bigfish", "starpilot", "fruitbot")


@dataclass
class RLBenchConfig:
    out: Path
    games: tuple[str, ...] = RL_GAMES
    budgets: tuple[int, ...] = (10_000, 100_000)
    sim_steps_per_budget: int = 10  # imagined PPO steps per real interaction of the budget
    world_model: Path | None = None  # default: the shipped one
    finetune_steps: int = 800
    reward_steps: int = REWARD_STEPS
    num_envs: int = 16
    eval_levels: int = 16
    eval_max_steps: int | None = None  # per evaluation episode; default Procgen's limit for the game
    evaluations: int = 5  # real-game evaluations along each training run
    seed: int = 0
    device: str = "auto"


def adapted_simulator(config: RLBenchConfig, game: str, budget: int, progress: bool) -> Path:
    """Spend `budget` real random steps on few-shot data, adapt the world model to it; returns the adapter."""
    run = config.out / "adapters" / f"{game}-{budget}"
    if (run / "config.json").exists():
        return run
    data = collect(CollectConfig(out=config.out / "data" / f"{game}-{budget}", games=[game],
                                 per_action=max(1, budget // 15), split="train", seed=config.seed),
                   progress=progress).root
    world = WorldModel.from_pretrained(config.world_model or pretrained_path("wm-cpu"))
    simulator = adapt(world, data, game, "full", finetune_steps=config.finetune_steps,
                      reward_steps=config.reward_steps, seed=config.seed, progress=progress)
    simulator.save_pretrained(run, {"world_model_folder": str(config.world_model) if config.world_model else None},
                              finetuned=config.finetune_steps > 0)
    return run


def run_rl_bench(config: RLBenchConfig, report: dict[str, Any] | None = None, save=None,
                 progress: bool = True) -> dict[str, Any]:
    """All arms for every game and budget; finished arms in `report` are skipped (resumable)."""
    report = report or {}
    report["settings"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(config).items()}
    results = report.setdefault("results", {})
    for game in config.games:
        max_steps = config.eval_max_steps or episode_timeout(game, "hard")
        if f"{game}/random" not in results:
            rng = np.random.default_rng(config.seed)
            uniform = lambda obs: rng.integers(15, size=1)
            results[f"{game}/random"] = real_returns(uniform, game, "full", config.eval_levels, max_steps,
                                                     config.seed)
        for budget in config.budgets:
            arms = {"sim": ("sim", config.sim_steps_per_budget * budget), "real": ("real", budget),
                    "real x10": ("real", 10 * budget)}
            for arm, (where, steps) in arms.items():
                key = f"{game}/{budget}/{arm}"
                if key in results:
                    continue
                adapter = adapted_simulator(config, game, budget, progress) if where == "sim" else None
                agent = AgentConfig(game, config.out / "agents" / key.replace("/", "-").replace(" ", ""), where,
                                    steps, config.num_envs, adapter=adapter, world_model=config.world_model,
                                    eval_every=max(1, steps // config.evaluations), eval_levels=config.eval_levels,
                                    eval_max_steps=max_steps, seed=config.seed, device=config.device)
                history = train_agent(agent, progress)
                # The simulator's real interactions: its few-shot data, the same number of steps of each action.
                spent = 15 * max(1, budget // 15) if where == "sim" else steps
                final = {k: v for k, v in history[-1].items() if k != "steps"}
                results[key] = {**final, "curve": history, "real_interactions": spent, "training_steps": steps}
                if save is not None:
                    save(report)
    return report


def _cell(result: dict[str, Any] | None) -> str:
    """Mean real return, +- its standard error where the run stored one."""
    if result is None:
        return "-"
    se = result.get("real_return_se")
    return f"{result['real_return']:.2f}" + (f" ± {se:.2f}" if se is not None else "")


def markdown_table(report: dict[str, Any]) -> str:
    s, results = report["settings"], report["results"]
    lines = ["| game | random | " + " | ".join(f"B={b}: sim | real | real x10" for b in s["budgets"]) + " |",
             "|---|---|" + "---|---|---|" * len(s["budgets"])]
    for game in s["games"]:
        cells = [_cell(results.get(f"{game}/random"))]
        for b in s["budgets"]:
            cells += [_cell(results.get(f"{game}/{b}/{arm}")) for arm in ("sim", "real", "real x10")]
        lines.append(f"| {game} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def quick(config: RLBenchConfig) -> RLBenchConfig:
    """A minutes-long smoke version (tiny budgets, one game) for tests and a first look."""
    return replace(config, games=config.games[:1], budgets=(64,), sim_steps_per_budget=2, finetune_steps=2,
                   reward_steps=5, num_envs=4, eval_levels=2, eval_max_steps=50, evaluations=1)
