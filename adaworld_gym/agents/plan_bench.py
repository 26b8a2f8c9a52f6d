"""`adaworld plan-bench`: the paper's Procgen visual planning benchmark (`planning-protocol.md`).

For every scene: adapt each world model to the scene's level (random few-shot play, N samples per action,
fine-tuned or not), then for every seed run the CEM planner with each model in the real game from the scene's
start, and count a success when the real game reaches the goal within the step limit. Random actions and the
oracle (the planner on the real game via save/restore) bound the table. Results accumulate in a JSON file
after every episode, so an interrupted run resumes.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from adaworld_gym.adaptation.adapt import adapt_to_data
from adaworld_gym.adaptation.env_adapt import collect_few_shot
from adaworld_gym.adaptation.simulator import AdaptedSimulator
from adaworld_gym.agents import PLAN_METHODS
from adaworld_gym.agents.configs import PlanBenchConfig
from adaworld_gym.agents.planner import EpisodeResult, OraclePlanner, WorldModelPlanner, run_episode
from adaworld_gym.agents.scenes import Scene, load_scenes, scene_env, start_scene
from adaworld_gym.envs.procgen_games import resolve_actions
from adaworld_gym.io import write_json
from adaworld_gym.models.world_model import WorldModel
from adaworld_gym.video import write_mp4
from adaworld_gym.weights import pretrained_path

# The protocol's full settings; a run below any of them is reported as reduced.
PROTOCOL = {"scenes_per_game": 30, "seeds": 5, "samples_per_action": 100, "finetune_steps": 500, "batch_size": 32}


def adapt_to_scene(folder: Path, scene: Scene, config: PlanBenchConfig, distribution_mode: str, init: str,
                   finetune_steps: int, progress: bool) -> AdaptedSimulator:
    """A fresh copy of the pretrained model adapted to the scene's level from random play on it."""
    env = scene_env(scene.game, scene.level, distribution_mode)
    data, _ = collect_few_shot(env, config.samples_per_action, seed=scene.level, progress=False)
    world = WorldModel.from_pretrained(folder, device=config.device)
    # The planner scores imagined frames against the goal and never asks the reward model: leave it untrained.
    return adapt_to_data(world, data, env.action_space, scene.game, finetune_steps, config.batch_size, init=init,
                         reward_steps=0, seed=scene.level, progress=progress, combos=resolve_actions("moves"))


def scene_models(scene: Scene, config: PlanBenchConfig, distribution_mode: str,
                 progress: bool) -> dict[str, AdaptedSimulator]:
    adaworld = config.adaworld or pretrained_path("wm-cpu")
    plans = {"adaworld": (adaworld, "average", config.finetune_steps),
             "adaworld-no-finetune": (adaworld, "average", 0),
             "action-agnostic": (config.agnostic, "random", config.finetune_steps)}
    return {name: adapt_to_scene(folder, scene, config, distribution_mode, init, steps, progress)
            for name, (folder, init, steps) in plans.items() if name in config.methods}


def write_plan_video(planner: WorldModelPlanner, start: np.ndarray, goal: np.ndarray, result: EpisodeResult,
                     path: Path) -> Path:
    """real | imagined (the executed actions replayed in the model from the start) | goal, side by side."""
    imagined = planner.imagine(start[None], result.actions[None])[0]
    imagined = np.concatenate([start[None], imagined])
    goals = np.repeat(goal[None], len(imagined), axis=0)
    return write_mp4(np.concatenate([result.frames, imagined, goals], axis=2), path, fps=4)


def plan_bench(config: PlanBenchConfig, progress: bool = True) -> dict[str, Any]:
    """`adaworld plan-bench`: the first `scenes_per_game` scenes of every scene set in `config.scenes`, every
    method and seed, resumed from and saved to `config.out / plan_bench.json` after each episode; also writes
    `plan_bench.md` (the table) and `videos/`."""
    folders = sorted(p.parent for p in config.scenes.glob("*/scenes.json"))
    if not folders:
        raise FileNotFoundError(f"{config.scenes}: no scene sets (run adaworld find-scenes --out {config.scenes})")
    loaded = [load_scenes(f) for f in folders]
    modes = {settings["distribution_mode"] for _, settings in loaded}
    if len(modes) != 1:
        raise ValueError(f"{config.scenes}: scene sets of different distribution modes {sorted(modes)}")
    picked = [s for game_scenes, _ in loaded for s in game_scenes[:config.scenes_per_game]]
    path = config.out / "plan_bench.json"
    report = json.loads(path.read_text()) if path.exists() else None
    report = run_plan_bench(picked, modes.pop(), config, report, lambda r: write_json(path, r), config.out / "videos",
                            progress=progress)
    write_json(path, report)
    (config.out / "plan_bench.md").write_text(markdown_table(report) + "\n")
    return report


def run_plan_bench(scenes: list[Scene], distribution_mode: str, config: PlanBenchConfig,
                   report: dict[str, Any] | None = None, save=None, video_dir: Path | None = None,
                   progress: bool = True) -> dict[str, Any]:
    """Every method and seed of `config` on `scenes`, skipping the episodes `report` already holds; `save(report)`
    after each episode, the first `config.videos` AdaWorld plans (seed 0) written to `video_dir`."""
    say = print if progress else (lambda *a: None)
    videos = config.videos
    report = report or {}
    reduced = {k: (getattr(config, k, None), v) for k, v in PROTOCOL.items()
               if k != "scenes_per_game" and getattr(config, k) < v}
    per_game = {g: sum(s.game == g for s in scenes) for g in dict.fromkeys(s.game for s in scenes)}
    if min(per_game.values()) < PROTOCOL["scenes_per_game"]:
        reduced["scenes_per_game"] = (per_game, PROTOCOL["scenes_per_game"])
    report["settings"] = {**{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()
                             if k not in ("scenes", "out", "videos")},
                          "distribution_mode": distribution_mode, "scenes": per_game,
                          "reduced": {k: {"ran": a, "protocol": b} for k, (a, b) in reduced.items()}}
    episodes = report.setdefault("episodes", {})
    for scene in scenes:
        prefix = f"{scene.game}/{scene.level}"
        todo = [(m, s) for s in range(config.seeds) for m in config.methods
                if episode_key(scene, m, s) not in episodes]
        if not todo:
            continue
        models = scene_models(scene, config, distribution_mode, progress)
        for method, seed in todo:
            env = scene_env(scene.game, scene.level, distribution_mode)
            start = start_scene(env, scene)
            planner = {"random": None, "oracle": OraclePlanner(env)}.get(method)
            if method in models:
                planner = WorldModelPlanner(models[method], config.cem.denoising_steps, seed=seed)
            result = run_episode(env, start, scene.goal_frame, planner, config.cem, seed)
            if video_dir is not None and method == "adaworld" and seed == 0 and videos > 0 and result.steps:
                videos -= 1
                write_plan_video(planner, start, scene.goal_frame, result,
                                 video_dir / f"{scene.game}_{scene.level}_adaworld.mp4")
            episodes[episode_key(scene, method, seed)] = {"success": result.success, "steps": result.steps,
                                                     "solution_length": scene.length}
            say(f"{prefix} {method} seed {seed}: {'success' if result.success else 'fail'} in {result.steps} steps")
            if save is not None:
                save(report)
    # The table covers this run's scenes, methods and seeds only, whatever else an earlier run left in the file.
    report["summary"] = summarise(report, {episode_key(s, m, seed) for s in scenes
                                           for m in config.methods for seed in range(config.seeds)})
    return report


def episode_key(scene: Scene, method: str, seed: int) -> str:
    """An episode's key in the report, "game/level/method/seed" (what `summarise` reads back)."""
    return f"{scene.game}/{scene.level}/{method}/{seed}"


def summarise(report: dict[str, Any], keys: set[str] | None = None) -> dict[str, Any]:
    """Success % per method and game, mean and standard error over seeds (and over games for the average), over
    the episodes named in `keys` (default: all)."""
    rates: dict[str, dict[str, dict[int, list[bool]]]] = {}
    for key, episode in report["episodes"].items():
        if keys is not None and key not in keys:
            continue
        game, _, method, seed = key.split("/")
        rates.setdefault(method, {}).setdefault(game, {}).setdefault(int(seed), []).append(episode["success"])
    summary: dict[str, Any] = {}
    for method, games in rates.items():
        per_seed_game = {g: [100 * float(np.mean(v)) for _, v in sorted(seeds.items())] for g, seeds in games.items()}
        seeds_all = sorted({s for seeds in games.values() for s in seeds})
        average = [float(np.mean([100 * np.mean(games[g][s]) for g in games if s in games[g]])) for s in seeds_all]
        summary[method] = {g: _mean_se(v) for g, v in per_seed_game.items()} | {"average": _mean_se(average)}
    return summary


def _mean_se(values: list[float]) -> dict[str, float]:
    se = float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
    return {"mean": float(np.mean(values)), "se": se, "seeds": len(values)}


def markdown_table(report: dict[str, Any]) -> str:
    summary = report["summary"]
    games = list(report["settings"]["scenes"])
    lines = ["| method | " + " | ".join(games) + " | average |", "|---|" + "---|" * (len(games) + 1)]
    for method in PLAN_METHODS:
        if method in summary:
            cells = [f"{summary[method][g]['mean']:.1f} ± {summary[method][g]['se']:.1f}" if g in summary[method]
                     else "-" for g in games + ["average"]]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
