"""Visual planning: the scene finder's solutions reach the goal in the real game, scene sets round-trip, the CEM
planner solves a scene with the real game as its model, and the benchmark runs every method on a tiny model."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from adaworld_gym.agents.configs import CEMConfig, PlanBenchConfig
from adaworld_gym.agents.plan_bench import markdown_table, run_plan_bench
from adaworld_gym.agents.planner import OraclePlanner, goal_similarity, run_episode
from adaworld_gym.agents.scenes import (find_scenes, load_scenes, replays_to_goal, save_scenes, scene_env, search_level,
                                        start_scene)
from adaworld_gym.models.conditions import make_condition
from adaworld_gym.models.diffusion.denoiser import Denoiser, preset as denoiser_preset
from adaworld_gym.models.frame_autoencoder import FrameAutoencoder, preset as ae_preset
from adaworld_gym.models.latent_action import LatentActionModel, preset as lam_preset
from adaworld_gym.models.world_model import WorldModel


@pytest.fixture(scope="module")
def maze_scenes(tmp_path_factory):
    scenes = find_scenes("maze", count=3, start_level=0, num_levels=10, max_nodes=3000, progress=False)
    folder = save_scenes(scenes, tmp_path_factory.mktemp("scenes"), {"distribution_mode": "hard", "max_steps": 20})
    return scenes, folder


def test_scene_solutions_replay_to_the_goal_and_round_trip(maze_scenes):
    scenes, folder = maze_scenes
    assert len(scenes) == 3 and all(1 <= s.length <= 20 for s in scenes)
    assert all(replays_to_goal(s) for s in scenes)
    loaded, settings = load_scenes(folder)
    assert settings["max_steps"] == 20 and [s.solution for s in loaded] == [s.solution for s in scenes]
    assert all(np.array_equal(a.goal_frame, b.goal_frame) and a.start_state == b.start_state
               for a, b in zip(loaded, scenes))
    assert replays_to_goal(loaded[0])
    short = loaded[0]
    short.solution = short.solution[:-1]  # a shortest solution less its last step cannot reach the goal
    assert not replays_to_goal(short)


def test_scene_finder_skips_trivial_levels():
    # Easy-mode maze level 0 is solved by a single move; it counts only when one-move scenes are allowed.
    trivial = search_level("maze", 0, max_nodes=50, distribution_mode="easy", min_steps=1)
    assert trivial is not None and trivial.length == 1 and replays_to_goal(trivial, "easy")
    assert search_level("maze", 0, max_nodes=50, distribution_mode="easy") is None


def test_oracle_planner_solves_a_scene(maze_scenes):
    scenes, _ = maze_scenes
    scene = min(scenes, key=lambda s: s.length)
    env = scene_env(scene.game, scene.level)
    start = start_scene(env, scene)
    assert np.array_equal(start, scene.start_frame)
    result = run_episode(env, start, scene.goal_frame, OraclePlanner(env), CEMConfig(samples=40), seed=0)
    assert result.success and result.steps <= 20 and len(result.actions) == result.steps
    assert goal_similarity(scene.goal_frame[None], scene.goal_frame)[0] == pytest.approx(1.0)


def test_plan_bench_runs_every_method(maze_scenes, tmp_path):
    scenes, _ = maze_scenes
    torch.manual_seed(0)
    for kind, name in (("latent_action", "adaworld"), ("none", "agnostic")):
        condition = make_condition(kind, LatentActionModel(lam_preset("tiny")))
        WorldModel(FrameAutoencoder(ae_preset("tiny")), Denoiser(denoiser_preset("tiny")),
                   condition).save_pretrained(tmp_path / name)
    config = PlanBenchConfig(tmp_path / "scenes", tmp_path / "adaworld", tmp_path / "agnostic", seeds=2,
                             samples_per_action=2, finetune_steps=2, batch_size=2,
                             cem=CEMConfig(horizon=3, samples=6, top_k=2, step_limit=4, execute=2, denoising_steps=1))
    report = run_plan_bench(scenes[:1], "hard", config, video_dir=tmp_path / "videos", progress=False)
    # Where the run read and wrote is no setting of it; the scenes it ran are counted per game.
    assert not {"out", "videos"} & set(report["settings"]) and report["settings"]["scenes"] == {"maze": 1}
    assert len(report["episodes"]) == 2 * 5 and set(report["summary"]) == set(config.methods)
    assert report["settings"]["reduced"]["seeds"] == {"ran": 2, "protocol": 5}
    assert all(0 <= v["average"]["mean"] <= 100 for v in report["summary"].values())
    assert "| oracle |" in markdown_table(report)
    # A later, smaller run over the same file reports its own methods and seeds only (and replays nothing).
    again = run_plan_bench(scenes[:1], "hard", replace(config, methods=["random"], seeds=1), report, progress=False)
    assert set(again["summary"]) == {"random"} and again["summary"]["random"]["average"]["seeds"] == 1
    assert len(again["episodes"]) == 2 * 5
    assert list((tmp_path / "videos").glob("maze_*_adaworld.mp4"))
    with pytest.raises(ValueError, match="needs a pretrained action-agnostic"):
        PlanBenchConfig(tmp_path / "scenes", tmp_path / "adaworld")
