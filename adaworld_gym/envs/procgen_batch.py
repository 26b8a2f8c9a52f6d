"""A batch of real Procgen games with Gymnasium's episode semantics, shared by the single and vector envs.

Procgen restarts a finished game inside the same step: the observation that comes back with `done` is already
the first frame of the next level, and the real last frame is never rendered. This class keeps the two apart:
`final_obs` is the last frame the finished episode showed (the frame just before the restart) and `obs` is what
the batch shows now. It also tells a level completed or lost (terminated) from Procgen's own time limit
(truncated), which Procgen reports alike.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass

import numpy as np

from adaworld_gym.envs.procgen_games import check_distribution_mode, check_game, episode_timeout, resolve_actions

# procgen imports the unmaintained `gym` (only to register its own envs there), which warns and prints a notice
# to stderr at import time; neither concerns users of this package, who get Gymnasium envs.
with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
    warnings.simplefilter("ignore")
    from procgen import ProcgenGym3Env

FRAME_SHAPE = (64, 64, 3)


@dataclass
class BatchStep:
    """What one step of the batch returns; arrays have the batch size as first dimension."""

    obs: np.ndarray  # (N, 64, 64, 3) uint8, first frames of new episodes where one ended
    rewards: np.ndarray  # (N,) float32
    terminated: np.ndarray  # (N,) bool: level completed or agent died
    truncated: np.ndarray  # (N,) bool: Procgen's time limit
    level_complete: np.ndarray  # (N,) bool: the episode ended by completing its level
    final_obs: np.ndarray  # (N, 64, 64, 3) uint8: last frame before the step (the frame shown at an episode end)
    levels: np.ndarray  # (N,) int64: level of the episode each step belonged to


@dataclass(frozen=True)
class ProcgenBatchState:
    """Everything needed to continue a batch exactly from where `get_state` was called."""

    game: str
    game_states: tuple[bytes, ...]
    elapsed_steps: tuple[int, ...]


class ProcgenBatch:
    """N copies of one Procgen game stepped together, with actions given as indices into an action subset."""

    def __init__(self, game: str, num: int, *, distribution_mode: str = "hard", start_level: int = 0,
                 num_levels: int = 0, actions: str | list[int] = "full", seed: int = 0):
        self.game = check_game(game)
        check_distribution_mode(distribution_mode)
        if num < 1:
            raise ValueError(f"the batch needs at least one game, got num={num}")
        if start_level < 0 or num_levels < 0:
            raise ValueError(f"start_level and num_levels must be >= 0, got {start_level}, {num_levels}")
        self.num = num
        self.distribution_mode = distribution_mode
        self.start_level = start_level
        self.num_levels = num_levels
        self.combos = np.asarray(resolve_actions(actions), dtype=np.int32)
        self.timeout = episode_timeout(game, distribution_mode)
        self.restart(seed)

    @property
    def num_actions(self) -> int:
        return len(self.combos)

    def restart(self, seed: int) -> np.ndarray:
        """Start new episodes in every copy; the levels are a deterministic function of `seed`."""
        # Procgen has no reset: a new game instance with its own level generator is the only way to restart.
        self._env = ProcgenGym3Env(num=self.num, env_name=self.game, distribution_mode=self.distribution_mode,
                                   start_level=self.start_level, num_levels=self.num_levels,
                                   rand_seed=int(seed) % 2**31)
        self._elapsed = np.zeros(self.num, dtype=np.int64)
        _, obs, _ = self._env.observe()
        self._obs = obs["rgb"].copy()
        return self._obs

    @property
    def obs(self) -> np.ndarray:
        """The frames the batch shows now, (N, 64, 64, 3) uint8."""
        return self._obs

    def levels(self) -> np.ndarray:
        """Level (Procgen's level seed) each copy is playing now."""
        return np.array([info["level_seed"] for info in self._env.get_info()], dtype=np.int64)

    def step(self, actions: np.ndarray) -> BatchStep:
        actions = np.asarray(actions)
        if actions.shape != (self.num,):
            raise ValueError(f"expected {self.num} actions, one per game, got an array of shape {actions.shape}")
        if not np.issubdtype(actions.dtype, np.integer) or actions.min() < 0 or actions.max() >= self.num_actions:
            raise ValueError(f"actions must be integers in [0, {self.num_actions}), got {actions.tolist()}")
        final_obs = self._obs
        self._env.act(self.combos[actions])
        rewards, obs, first = self._env.observe()
        infos = self._env.get_info()
        self._elapsed += 1
        completed = np.array([bool(info["prev_level_complete"]) for info in infos])
        # Procgen flags a time-out like any other end; an unfinished level at the step limit was cut by time.
        truncated = first & ~completed & (self._elapsed >= self.timeout)
        terminated = first & ~truncated
        levels = np.array([info["prev_level_seed"] if f else info["level_seed"] for info, f in zip(infos, first)],
                          dtype=np.int64)
        self._elapsed[first] = 0
        self._obs = obs["rgb"].copy()
        return BatchStep(obs=self._obs, rewards=rewards.astype(np.float32), terminated=terminated,
                         truncated=truncated, level_complete=first & completed, final_obs=final_obs, levels=levels)

    def get_state(self) -> ProcgenBatchState:
        return ProcgenBatchState(self.game, tuple(self._env.callmethod("get_state")),
                                 tuple(int(e) for e in self._elapsed))

    def set_state(self, state: ProcgenBatchState) -> np.ndarray:
        if state.game != self.game:
            raise ValueError(f"state was saved from {state.game!r}, this batch plays {self.game!r}")
        if len(state.game_states) != self.num:
            raise ValueError(f"state holds {len(state.game_states)} games, this batch has {self.num}")
        self._env.callmethod("set_state", list(state.game_states))
        self._elapsed = np.array(state.elapsed_steps, dtype=np.int64)
        _, obs, _ = self._env.observe()
        self._obs = obs["rgb"].copy()
        return self._obs
