"""N imagined copies of one environment stepped together in one batched forward pass."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from adaworld_gym.adaptation.simulator import AdaptedSimulator
from adaworld_gym.models.diffusion.sampler import SamplerConfig
from adaworld_gym.models.world_model import RolloutState


def check_actions(space: gym.Space, actions: np.ndarray, num: int) -> None:
    """One action per copy, each inside `space`, or a ValueError naming the first bad one."""
    if len(actions) != num:
        raise ValueError(f"expected {num} actions, got {len(actions)}")
    for i, action in enumerate(actions):
        if isinstance(space, gym.spaces.Box) and np.issubdtype(np.asarray(action).dtype, np.number):
            action = np.asarray(action, dtype=space.dtype)  # float64 input is fine for a float32 Box
        if not space.contains(action):
            where = f" (copy {i})" if num > 1 else ""
            raise ValueError(f"action {np.asarray(action).tolist()!r}{where} is not in {space}")


class SimulatorBatch:
    """N imagined copies of one environment stepped together: the core all the Gymnasium envs wrap."""

    def __init__(self, simulator: AdaptedSimulator, num: int, pool: np.ndarray, max_episode_steps: int, *,
                 denoising_steps: int = 3, memory_noise: float = 0.0):
        self.sim, self.num, self.pool = simulator, num, pool
        self.world = simulator.world
        self.sampler = self.world.sampler(SamplerConfig(num_steps=denoising_steps, memory_noise=memory_noise))
        self.max_episode_steps = max_episode_steps
        self.frame_shape = (self.world.resolution, self.world.resolution, 3)
        self.obs = np.zeros((num, *self.frame_shape), dtype=np.uint8)
        self.elapsed = np.zeros(num, dtype=np.int64)
        self.state: RolloutState | None = None

    def restart(self, seed: int) -> np.ndarray:
        """Every copy at a level start from the pool; the seed fixes the picks and the sampler's noise."""
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator(self.world.device).manual_seed(seed)
        return self.start_from(self.pool[self.rng.integers(len(self.pool), size=self.num)][:, None])

    def start_from(self, frames: np.ndarray) -> np.ndarray:
        """Every copy from given frames (N, T, H, W, 3) uint8, oldest first (T from 1 to K)."""
        frames = np.asarray(frames)
        r = self.world.resolution
        if frames.dtype != np.uint8 or frames.ndim != 5 or frames.shape[0] != self.num or \
                frames.shape[2:] != self.frame_shape or not 1 <= frames.shape[1] <= self.world.memory:
            raise ValueError(f"start frames must be uint8 of shape ({self.num}, T, {r}, {r}, 3) with 1 <= T <= "
                             f"{self.world.memory}, got {frames.dtype} {frames.shape}")
        self.state = self.world.start(torch.from_numpy(frames).permute(0, 1, 4, 2, 3))
        self.obs, self.elapsed = frames[:, -1].copy(), np.zeros(self.num, dtype=np.int64)
        return self.obs

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, ...]:
        actions = np.asarray(actions)
        check_actions(self.sim.action_space, actions, self.num)
        previous = self.state.frame  # on the device already: the rollout state keeps the last frame
        frames, self.state = self.world.step(self.state, self.sim.conditions(actions), self.sampler, self.generator)
        outcome = self.sim.outcome(previous, frames, actions)
        self.obs = frames.permute(0, 2, 3, 1).cpu().numpy()
        self.elapsed += 1
        terminated = outcome.terminated.cpu().numpy()
        truncated = (self.elapsed >= self.max_episode_steps) & ~terminated
        return self.obs.copy(), outcome.reward.cpu().numpy().astype(np.float32), terminated, truncated

    def reset_copies(self, index: np.ndarray) -> None:
        """Autoreset: the given copies start again from fresh level starts of the pool."""
        if not len(index):
            return
        starts = self.pool[self.rng.integers(len(self.pool), size=len(index))]
        fresh = self.world.start(torch.from_numpy(starts[:, None]).permute(0, 1, 4, 2, 3))
        idx = torch.from_numpy(index).to(self.world.device)
        self.state.replace(idx, fresh)
        self.obs[index], self.elapsed[index] = starts, 0
