"""Model-predictive control with the cross-entropy method (the planning protocol, `planning-protocol.md`).

Any model that can imagine, from the current real state, the frames of a batch of action sequences plans here:
the adapted world model (all N sequences of an iteration in one batched rollout), or the real game itself
through state save/restore (the oracle). A sequence scores the highest cosine similarity (RGB) between one of
its frames and the goal frame; each iteration refits a per-step categorical distribution to the top K.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from adaworld_gym.adaptation.simulator import AdaptedSimulator
from adaworld_gym.agents.configs import CEMConfig
from adaworld_gym.envs.procgen_real import ProcgenRealEnv
from adaworld_gym.models.diffusion.sampler import SamplerConfig


class PlanningModel(Protocol):
    def imagine(self, history: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """From the real frames so far (T, H, W, 3) and the current real state, the frames (N, L, H, W, 3) of
        N action sequences (N, L)."""


def goal_similarity(frames: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Cosine similarity in RGB space of each frame (..., H, W, 3) to the goal frame -> (...)."""
    a = frames.reshape(*frames.shape[:-3], -1).astype(np.float32)
    b = goal.reshape(-1).astype(np.float32)
    return a @ b / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b) + 1e-8)


class WorldModelPlanner:
    """The adapted simulator as a planning model: the last K real frames as memory, one batched rollout."""

    def __init__(self, simulator: AdaptedSimulator, denoising_steps: int = 3, seed: int = 0):
        self.simulator, self.sampler = simulator, SamplerConfig(num_steps=denoising_steps)
        self.seed = seed

    def imagine(self, history: np.ndarray, actions: np.ndarray) -> np.ndarray:
        world = self.simulator.world
        context = torch.from_numpy(history[-world.memory:]).permute(0, 3, 1, 2)[None]
        n, length = actions.shape
        conditions = self.simulator.conditions(actions.reshape(-1)).reshape(n, length, -1)
        self.seed += 1  # fresh sampler noise for every call, reproducible from the starting seed
        frames = world.rollout(context, conditions, self.sampler, seed=self.seed)  # context encoded once
        return frames.permute(0, 1, 3, 4, 2).cpu().numpy()


class OraclePlanner:
    """The real game as its own model: every sequence is played from a saved state and the state restored.
    After the episode ends (the goal, or a loss) the last frame repeats."""

    def __init__(self, env: ProcgenRealEnv):
        self.env = env

    def imagine(self, history: np.ndarray, actions: np.ndarray) -> np.ndarray:
        saved = self.env.get_state()
        out = np.empty((*actions.shape, *history.shape[1:]), dtype=np.uint8)
        for i, sequence in enumerate(actions):
            self.env.set_state(saved)
            ended = False
            for t, action in enumerate(sequence):
                if not ended:
                    frame, _, terminated, truncated, _ = self.env.step(int(action))
                    ended = terminated or truncated
                out[i, t] = frame
        self.env.set_state(saved)
        return out


def cem_plan(model: PlanningModel, history: np.ndarray, goal: np.ndarray, num_actions: int, config: CEMConfig,
             rng: np.random.Generator) -> np.ndarray:
    """The best action sequence (L,) found by CEM; all N candidates of an iteration are imagined together."""
    probs = np.full((config.horizon, num_actions), 1.0 / num_actions)
    best, best_score = None, -np.inf
    for _ in range(config.iterations):
        cumulative = probs.cumsum(axis=1)
        draws = rng.random((config.samples, config.horizon, 1))
        actions = (draws > cumulative[None]).sum(axis=2).clip(max=num_actions - 1)
        scores = goal_similarity(model.imagine(history, actions), goal).max(axis=1)
        elite = actions[np.argsort(scores)[-config.top_k:]]
        if scores.max() > best_score:
            best, best_score = actions[int(scores.argmax())], float(scores.max())
        counts = np.stack([(elite == a).sum(axis=0) for a in range(num_actions)], axis=1)
        probs = counts / counts.sum(axis=1, keepdims=True)
    return best


@dataclass
class EpisodeResult:
    success: bool
    steps: int
    frames: np.ndarray  # (steps + 1, H, W, 3) the real frames
    actions: np.ndarray  # (steps,) the actions executed


def run_episode(env: ProcgenRealEnv, start_frame: np.ndarray, goal: np.ndarray, model: PlanningModel | None,
                config: CEMConfig, seed: int) -> EpisodeResult:
    """Plan (or act at random when `model` is None) from the env's current state, executing `execute` actions
    per plan, until the goal (a positive reward) or `step_limit` real steps."""
    rng = np.random.default_rng(seed)
    frames, actions, n = [start_frame], [], int(env.action_space.n)
    while len(frames) - 1 < config.step_limit:
        if model is None:
            plan = rng.integers(n, size=config.execute)
        else:
            plan = cem_plan(model, np.stack(frames), goal, n, config, rng)[:config.execute]
        for action in plan:
            frame, reward, terminated, truncated, _ = env.step(int(action))
            frames.append(frame), actions.append(int(action))
            if terminated or truncated:
                return EpisodeResult(bool(reward > 0), len(actions), np.stack(frames), np.array(actions))
            if len(actions) >= config.step_limit:
                break
    return EpisodeResult(False, len(actions), np.stack(frames), np.array(actions))
