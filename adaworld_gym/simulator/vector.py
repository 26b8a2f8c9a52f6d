"""`gym.make_vec("AdaWorld-Procgen-v0", num_envs=N)`: the Procgen simulator's copies as one Gymnasium vector env."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from adaworld_gym.envs.procgen_batch import FRAME_SHAPE
from adaworld_gym.simulator.batch import SimulatorBatch
from adaworld_gym.simulator.loading import procgen_simulator


class AdaWorldProcgenVectorEnv(VectorEnv):
    """`gym.make_vec("AdaWorld-Procgen-v0", num_envs=N)`: all N copies in one batched forward pass per step,
    with same-step autoreset as `ProcgenReal-v0`'s vector env (`info["final_obs"]` holds an ended episode's
    last frame). Arguments are those of `AdaWorldProcgenEnv`."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15, "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 1, game: str = "coinrun", *, actions: str | list[int] = "full",
                 adapter: str | Path | None = None, world_model: str | Path | None = None, denoising_steps: int = 3,
                 memory_noise: float = 0.0, max_episode_steps: int | None = None, start_level: int = 0,
                 num_levels: int = 0, device: str = "auto", render_mode: str | None = None):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"the vector env renders only 'rgb_array', got render_mode={render_mode!r}")
        self.simulator, pool, max_steps = procgen_simulator(game, actions, adapter, world_model, max_episode_steps,
                                                            start_level, num_levels, device)
        self._batch = SimulatorBatch(self.simulator, num_envs, pool, max_steps, denoising_steps=denoising_steps,
                                     memory_noise=memory_noise)
        self.num_envs, self.game, self.render_mode = num_envs, game, render_mode
        self.action_names = self.simulator.action_names
        self.single_observation_space = gym.spaces.Box(0, 255, FRAME_SHAPE, dtype=np.uint8)
        self.single_action_space = self.simulator.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None or not self._started:
            self._np_random, self._np_random_seed = gym.utils.seeding.np_random(seed)
        self._batch.restart(int(self.np_random.integers(2**31)))
        frames = (options or {}).get("frames")
        obs = self._batch.start_from(np.asarray(frames)) if frames is not None else self._batch.obs
        self._started = True
        return obs.copy(), {}

    def step(self, actions):
        if not self._started:
            raise gym.error.ResetNeeded("call reset() before step()")
        obs, rewards, terminated, truncated = self._batch.step(np.asarray(actions))
        infos: dict[str, Any] = {}
        ended = np.flatnonzero(terminated | truncated)
        for i in ended:
            infos = self._add_info(infos, {"final_obs": obs[i].copy(), "final_info": {}}, int(i))
        self._batch.reset_copies(ended)
        return self._batch.obs.copy(), rewards, terminated, truncated, infos

    def render(self):
        return tuple(self._batch.obs.copy()) if self.render_mode == "rgb_array" else None
