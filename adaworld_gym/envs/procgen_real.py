"""`ProcgenReal-v0`: one real Procgen game as a Gymnasium environment, with exact save and restore."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from adaworld_gym.envs.procgen_batch import FRAME_SHAPE, ProcgenBatch, ProcgenBatchState
from adaworld_gym.envs.procgen_games import PROCGEN_ACTION_NAMES
from adaworld_gym.envs.rendering import HumanWindow


@dataclass(frozen=True)
class ProcgenEnvState:
    """A snapshot from `ProcgenRealEnv.get_state`; `set_state` continues from it exactly."""

    batch: ProcgenBatchState
    shown_obs: np.ndarray
    needs_reset: bool


class ProcgenRealEnv(gym.Env):
    """A real Procgen game with 64x64x3 uint8 frames and `Discrete(15)` actions, or a named subset of them.

    Args:
        game: one of the 16 Procgen games, for example "coinrun".
        distribution_mode: Procgen's difficulty ("easy", "hard", ...). AdaWorld uses "hard".
        start_level, num_levels: levels are drawn from [start_level, start_level + num_levels); num_levels=0
            means unbounded. The paper's test split is start_level=0, num_levels=1000.
        actions: "full" (15 combos), "moves" (LEFT, DOWN, UP, RIGHT), "moves_noop", or a list of combo indices.
        render_mode: None, "rgb_array" or "human".

    `reset(seed=s)` picks the level sequence deterministically from `s`. An episode ends with `terminated` when
    the level is completed or lost and with `truncated` at Procgen's own step limit. Because Procgen never
    renders a finished game, the observation returned at the end of an episode is the last frame the episode
    showed (the frame just before the restart), never the next level's first frame.
    """

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 15}
    # Procgen restarts within the ending step, so an episode's true last frame is never rendered.
    renders_final_frame = False

    def __init__(self, game: str = "coinrun", *, distribution_mode: str = "hard", start_level: int = 0,
                 num_levels: int = 0, actions: str | list[int] = "full", render_mode: str | None = None):
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self._batch_kwargs = dict(game=game, num=1, distribution_mode=distribution_mode, start_level=start_level,
                                  num_levels=num_levels, actions=actions)
        self._batch = ProcgenBatch(**self._batch_kwargs, seed=0)
        self.game = game
        self.action_names = tuple(PROCGEN_ACTION_NAMES[c] for c in self._batch.combos)
        self.observation_space = gym.spaces.Box(0, 255, FRAME_SHAPE, dtype=np.uint8)
        self.action_space = gym.spaces.Discrete(self._batch.num_actions)
        self.render_mode = render_mode
        self._window = HumanWindow(f"ProcgenReal {game}") if render_mode == "human" else None
        self._shown_obs = self._batch.obs[0]
        self._needs_reset = True
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None or not self._started or not self._needs_reset:
            # A seeded or mid-episode reset needs a fresh game; after an episode ended, Procgen already
            # started the next level (drawn by its seeded level generator), so we continue into it.
            self._batch.restart(int(self.np_random.integers(2**31)))
            self._started = True
        self._shown_obs = self._batch.obs[0]
        self._needs_reset = False
        if self.render_mode == "human":
            self.render()
        return self._shown_obs.copy(), {"level": int(self._batch.levels()[0])}

    def step(self, action):
        if self._needs_reset:
            raise gym.error.ResetNeeded("call reset() before step(): the episode has ended or not started")
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space} "
                             f"(an int in [0, {self.action_space.n}) for {list(self.action_names)})")
        result = self._batch.step(np.array([int(action)]))
        terminated, truncated = bool(result.terminated[0]), bool(result.truncated[0])
        ended = terminated or truncated
        self._needs_reset = ended
        self._shown_obs = result.final_obs[0] if ended else result.obs[0]
        info = {"level": int(result.levels[0])}
        if ended:
            info["level_complete"] = bool(result.level_complete[0])
        if self.render_mode == "human":
            self.render()
        return self._shown_obs.copy(), float(result.rewards[0]), terminated, truncated, info

    def render(self):
        if self.render_mode == "rgb_array":
            return self._shown_obs.copy()
        if self.render_mode == "human":
            self._window.show(self._shown_obs)
        return None

    def close(self):
        if self._window is not None:
            self._window.close()

    def get_state(self) -> ProcgenEnvState:
        """Snapshot of the whole game; `set_state` returns the env to it, and the same actions then give the
        same frames, rewards and ends."""
        if not self._started:
            raise gym.error.ResetNeeded("call reset() before get_state()")
        return ProcgenEnvState(self._batch.get_state(), self._shown_obs.copy(), self._needs_reset)

    def set_state(self, state: ProcgenEnvState) -> np.ndarray:
        """Restore a snapshot from `get_state` and return the observation shown at that moment."""
        if not isinstance(state, ProcgenEnvState):
            raise TypeError(f"set_state expects a ProcgenEnvState from get_state(), got {type(state).__name__}")
        self._batch.set_state(state.batch)
        self._shown_obs = state.shown_obs.copy()
        self._needs_reset = state.needs_reset
        self._started = True
        return self._shown_obs.copy()
