"""`gym.make_vec("ProcgenReal-v0", num_envs=N)`: N real games stepped by one `ProcgenGym3Env(num=N)`."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from adaworld_gym.envs.procgen_batch import FRAME_SHAPE, ProcgenBatch, ProcgenBatchState
from adaworld_gym.envs.procgen_games import PROCGEN_ACTION_NAMES


class ProcgenRealVectorEnv(VectorEnv):
    """A Gymnasium vector env over Procgen's native batched game, with same-step autoreset.

    Procgen restarts an ended game within the step, which is Gymnasium's `AutoresetMode.SAME_STEP`: where an
    episode ended, `obs[i]` is already the next episode's first frame, and the episode's last frame is in
    `info["final_obs"][i]` (mask `info["_final_obs"]`), with `info["final_info"]` holding its level and whether
    it was completed. Arguments are those of `ProcgenRealEnv`.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15, "autoreset_mode": AutoresetMode.SAME_STEP}
    # Procgen restarts within the ending step, so an episode's true last frame is never rendered.
    renders_final_frame = False

    def __init__(self, num_envs: int = 1, game: str = "coinrun", *, distribution_mode: str = "hard",
                 start_level: int = 0, num_levels: int = 0, actions: str | list[int] = "full",
                 render_mode: str | None = None):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"the vector env renders only 'rgb_array', got render_mode={render_mode!r}")
        self._batch = ProcgenBatch(game, num_envs, distribution_mode=distribution_mode, start_level=start_level,
                                   num_levels=num_levels, actions=actions, seed=0)
        self.num_envs = num_envs
        self.game = game
        self.render_mode = render_mode
        self.action_names = tuple(PROCGEN_ACTION_NAMES[c] for c in self._batch.combos)
        self.single_observation_space = gym.spaces.Box(0, 255, FRAME_SHAPE, dtype=np.uint8)
        self.single_action_space = gym.spaces.Discrete(self._batch.num_actions)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be one int for the whole batch (Procgen seeds its copies from it), got {seed!r}")
        if seed is not None or not self._started:
            self._np_random, self._np_random_seed = gym.utils.seeding.np_random(seed)
        obs = self._batch.restart(int(self.np_random.integers(2**31)))
        self._started = True
        return obs.copy(), {"level": self._batch.levels(), "_level": np.ones(self.num_envs, dtype=bool)}

    def step(self, actions):
        if not self._started:
            raise gym.error.ResetNeeded("call reset() before step()")
        result = self._batch.step(np.asarray(actions))  # checks shape, type and range with a clear error
        ended = result.terminated | result.truncated
        infos: dict[str, Any] = {"level": self._batch.levels(), "_level": np.ones(self.num_envs, dtype=bool)}
        for i in np.flatnonzero(ended):
            final_info = {"level": int(result.levels[i]), "level_complete": bool(result.level_complete[i])}
            infos = self._add_info(infos, {"final_obs": result.final_obs[i], "final_info": final_info}, int(i))
        return result.obs.copy(), result.rewards, result.terminated, result.truncated, infos

    def render(self):
        return tuple(self._batch.obs.copy()) if self.render_mode == "rgb_array" else None

    def get_state(self) -> ProcgenBatchState:
        """Snapshot of every game in the batch, for exact branching and replay."""
        return self._batch.get_state()

    def set_state(self, state: ProcgenBatchState) -> np.ndarray:
        """Restore a snapshot from `get_state`; returns the batch's observations at that moment."""
        return self._batch.set_state(state).copy()
