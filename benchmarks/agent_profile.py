"""Where an agent's time goes: one CEM planning episode and one PPO rollout + update in the learned simulator.

    python benchmarks/agent_profile.py [--plan-game heist] [--ppo-game bigfish] [--quick]

Both run under cProfile on the shipped model and adapters; the table gives, per part, the cumulative seconds of
the functions that do it and their share of the whole (parts nest: the UNet and the frame decoder are inside
"imagining"). Writes `agent_profile.json` and `agent_profile.md` to --out.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import time
from pathlib import Path
from typing import Callable

import torch

# (label, nesting depth, file suffix, function name): the parts reported, matched against cProfile's entries.
PLAN_PARTS = [
    ("imagining (WorldModelPlanner.imagine)", 0, "agents/planner.py", "imagine"),
    ("UNet denoiser (Denoiser.denoise)", 1, "diffusion/denoiser.py", "denoise"),
    ("frame decoder (FrameAutoencoder.decode)", 1, "models/frame_autoencoder.py", "decode"),
    ("context encoder (FrameAutoencoder.encode)", 1, "models/frame_autoencoder.py", "encode"),
    ("scoring (goal_similarity)", 0, "agents/planner.py", "goal_similarity"),
    ("real game steps (ProcgenRealEnv.step)", 0, "envs/procgen_real.py", "step"),
]
PPO_PARTS = [
    ("rollout collection (collect_rollouts)", 0, "on_policy_algorithm.py", "collect_rollouts"),
    ("simulator step (AdaWorldProcgenVectorEnv.step)", 1, "simulator/vector.py", "step"),
    ("UNet denoiser (Denoiser.denoise)", 2, "diffusion/denoiser.py", "denoise"),
    ("frame decoder (FrameAutoencoder.decode)", 2, "models/frame_autoencoder.py", "decode"),
    ("reward / end model (RewardModel.predict)", 2, "adaptation/reward_model.py", "predict"),
    ("policy forward (ActorCriticPolicy.forward)", 1, "common/policies.py", "forward"),
    ("PPO update (PPO.train)", 0, "ppo/ppo.py", "train"),
]


def profile(fn: Callable[[], None], parts: list[tuple[str, int, str, str]]) -> dict:
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(fn)
    total = time.perf_counter() - start
    stats = pstats.Stats(profiler).stats  # {(file, line, name): (calls, ncalls, tottime, cumtime, callers)}
    rows = []
    for label, depth, suffix, name in parts:
        # The outermost match: cumulative time already includes recursive / nested calls of the same function.
        seconds = max((value[3] for (file, _, func), value in stats.items()
                       if func == name and file.replace(os.sep, "/").endswith(suffix)), default=0.0)
        rows.append({"part": label, "depth": depth, "seconds": seconds, "share": seconds / total})
    return {"total_seconds": total, "parts": rows}


def planning_episode(game: str, cem, seed: int) -> Callable[[], None]:
    from adaworld_gym.agents.planner import WorldModelPlanner, run_episode
    from adaworld_gym.envs import ProcgenRealEnv
    from adaworld_gym.simulator.loading import load_simulator

    simulator = load_simulator(game, "moves", device="cpu")
    env = ProcgenRealEnv(game, actions="moves", start_level=0, num_levels=1)
    start, _ = env.reset(seed=seed)
    goal = start[::-1].copy()  # any frame will do: the profile does not depend on reaching it
    planner = WorldModelPlanner(simulator, cem.denoising_steps, seed)
    return lambda: run_episode(env, start, goal, planner, cem, seed)


def ppo_iteration(game: str, num_envs: int, n_steps: int, seed: int) -> Callable[[], None]:
    from stable_baselines3 import PPO

    from adaworld_gym.agents.sb3_vec import SameStepVecEnv
    from adaworld_gym.agents.configs import AgentConfig
    from adaworld_gym.simulator.vector import AdaWorldProcgenVectorEnv

    c = AgentConfig(game=game, out=Path("."), num_envs=num_envs, n_steps=n_steps, seed=seed)
    env = SameStepVecEnv(AdaWorldProcgenVectorEnv(num_envs, game, device="cpu"))
    env.seed(seed)
    model = PPO("CnnPolicy", env, n_steps=c.n_steps, batch_size=min(c.batch_size, num_envs * n_steps),
                n_epochs=c.n_epochs, learning_rate=c.learning_rate, gamma=c.gamma, gae_lambda=c.gae_lambda,
                ent_coef=c.ent_coef, seed=seed, device="cpu", verbose=0)
    return lambda: model.learn(num_envs * n_steps)  # exactly one rollout and one update


def markdown(report: dict) -> str:
    lines = []
    for name, title in (("planning", "One CEM planning episode"), ("ppo", "One PPO rollout + update")):
        r = report[name]
        lines += [f"**{title}** ({r['setting']}): {r['total_seconds']:.1f} s", "",
                  "| part | seconds | share |", "|---|---|---|"]
        lines += [f"| {'. . ' * p['depth']}{p['part']} | {p['seconds']:.2f} | {p['share']:.0%} |" for p in r["parts"]]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    from adaworld_gym.agents.configs import CEMConfig

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plan-game", default="heist")
    parser.add_argument("--ppo-game", default="bigfish")
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--n-steps", type=int, default=128, help="PPO steps per env per rollout")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny CEM and PPO sizes: checks it runs")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "agent_profile")
    args = parser.parse_args()
    cem = CEMConfig(horizon=3, samples=4, iterations=1, execute=3, step_limit=3) if args.quick else CEMConfig()
    if args.quick:
        args.num_envs, args.n_steps = 2, 8
    torch.manual_seed(args.seed)
    settings = {"plan_game": args.plan_game, "cem": cem.__dict__, "ppo_game": args.ppo_game,
                "num_envs": args.num_envs, "n_steps": args.n_steps, "seed": args.seed,
                "threads": torch.get_num_threads(), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
                "torch": torch.__version__}
    print("settings:", json.dumps(settings))
    report = {"settings": settings,
              "planning": {"setting": f"{args.plan_game}, {cem.samples} sequences x {cem.horizon} steps x "
                                      f"{cem.iterations} iterations per plan, {cem.step_limit} real steps",
                           **profile(planning_episode(args.plan_game, cem, args.seed), PLAN_PARTS)},
              "ppo": {"setting": f"{args.ppo_game}, {args.num_envs} envs x {args.n_steps} steps",
                      **profile(ppo_iteration(args.ppo_game, args.num_envs, args.n_steps, args.seed), PPO_PARTS)}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "agent_profile.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    (args.out / "agent_profile.md").write_text(f"Settings: {json.dumps(settings)}\n\n{table}")
    print(table)


if __name__ == "__main__":
    main()
