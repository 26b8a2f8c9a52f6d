"""Behaviour policies that drive data collection, one action per environment of a batch per call, and the few-shot
quota policy for any action space."""

from __future__ import annotations

from typing import Any, Callable, Protocol

import gymnasium as gym
import numpy as np

POLICY_NAMES = ("random", "held", "sb3")
RANDOM_POLICIES = ("random", "held")  # the behaviour policies that need no trained agent


def check_random_policy(name: str) -> str:
    """Return `name` if it is a policy that needs no agent ("random", "held"), else raise a ValueError."""
    if name not in RANDOM_POLICIES:
        raise ValueError(f"policy must be 'random' or 'held', got {name!r}")
    return name


class BehaviourPolicy(Protocol):
    def __call__(self, obs: np.ndarray, episode_start: np.ndarray) -> np.ndarray:
        """Actions (N,) for observations (N, H, W, 3); `episode_start[i]` is True on an episode's first frame."""


# A trained agent's policy for an environment with that many actions, e.g. `partial(SB3Policy, folder)` from
# `agents.sb3_policy`: agents sit above data, so collection takes the policy from its caller.
AgentPolicy = Callable[[int], BehaviourPolicy]


class UniformRandomPolicy:
    def __init__(self, num_actions: int, num_envs: int, seed: int = 0):
        self.num_actions, self.num_envs = num_actions, num_envs
        self.rng = np.random.default_rng(seed)

    def __call__(self, obs: np.ndarray, episode_start: np.ndarray) -> np.ndarray:
        return self.rng.integers(self.num_actions, size=self.num_envs)


class HeldRandomPolicy:
    """Random actions, each held for a random number of steps (1 to `max_hold`, uniform).

    Holding a direction gives the long directed motions of AdaWorld's Gym Retro data, which a latent action
    model needs to see what "moving right" looks like beyond one jittery step."""

    def __init__(self, num_actions: int, num_envs: int, seed: int = 0, max_hold: int = 16):
        if max_hold < 1:
            raise ValueError(f"max_hold must be >= 1, got {max_hold}")
        self.num_actions, self.max_hold = num_actions, max_hold
        self.rng = np.random.default_rng(seed)
        self.actions = np.zeros(num_envs, dtype=np.int64)
        self.left = np.zeros(num_envs, dtype=np.int64)

    def __call__(self, obs: np.ndarray, episode_start: np.ndarray) -> np.ndarray:
        renew = (self.left <= 0) | episode_start
        n = int(renew.sum())
        self.actions[renew] = self.rng.integers(self.num_actions, size=n)
        self.left[renew] = self.rng.integers(1, self.max_hold + 1, size=n)
        self.left -= 1
        return self.actions.copy()


def quota_actions(space: gym.Space) -> int | None:
    """How many actions get a quota of exactly N samples: every Discrete action; for MultiBinary(n), each
    button pressed alone and all released (n + 1; combinations are left to the action map, which adds the
    buttons up). None for spaces sampled at random instead."""
    if isinstance(space, gym.spaces.Discrete):
        return int(space.n)
    if isinstance(space, gym.spaces.MultiBinary):
        return int(space.shape[0]) + 1
    return None


def quota_action(space: gym.Space, index: int) -> Any:
    """The action of quota number `index` (see `quota_actions`)."""
    if isinstance(space, gym.spaces.Discrete):
        return int(space.start) + index
    buttons = np.zeros(space.shape, dtype=space.dtype)
    if index:  # 0: all released; i: button i - 1 alone
        buttons[index - 1] = 1
    return buttons


def few_shot_steps(space: gym.Space, samples_per_action: int) -> int:
    """How many steps "N samples per action" means: N per discrete action, N per MultiBinary button pressed
    alone and N with all released, N per value of each MultiDiscrete dimension, and N per direction of each Box
    dimension."""
    quota = quota_actions(space)
    if quota is not None:
        return samples_per_action * quota
    if isinstance(space, gym.spaces.MultiDiscrete):
        return samples_per_action * int(space.nvec.sum())
    return samples_per_action * 2 * int(np.prod(space.shape))


def bounded_box(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Box bounds where infinite ones are read as [-1, 1] (what sampling and scaling then assume)."""
    return np.where(np.isfinite(low), low, -1.0), np.where(np.isfinite(high), high, 1.0)


class QuotaRandomPolicy:
    """Few-shot adaptation data from one environment of any action space: random actions, each held for 1 to
    `max_hold` steps (uniform; 1: a new action every step). Discrete and MultiBinary spaces draw among the
    actions still short of their quota (`quota_actions`), so each gets exactly `per_action` steps in all (a hold
    ends early when its quota runs out); a MultiDiscrete space is sampled uniformly, a Box uniformly within its
    bounds (infinite bounds read as [-1, 1]), which covers the space (`few_shot_steps` says for how long)."""

    def __init__(self, space: gym.Space | int, per_action: int, seed: int = 0, max_hold: int = 1):
        if per_action < 1:
            raise ValueError(f"per_action must be >= 1, got {per_action}")
        if max_hold < 1:
            raise ValueError(f"max_hold must be >= 1, got {max_hold}")
        self.space = gym.spaces.Discrete(space) if isinstance(space, int) else space
        quota = quota_actions(self.space)
        # Steps left to each quota action; None: the space is sampled without quotas.
        self.remaining = np.full(quota, per_action, dtype=np.int64) if quota is not None else None
        self.per_action, self.max_hold = per_action, max_hold
        self.rng = np.random.default_rng(seed)
        self.action: Any = None
        self.index, self.left = 0, 0  # index: the held action's quota number

    @property
    def done(self) -> bool:
        return self.remaining is not None and not self.remaining.any()

    def _draw(self) -> Any:
        if self.remaining is not None:
            if self.done:
                raise RuntimeError(f"every action of {self.space} has had its {self.per_action} steps")
            self.index = int(self.rng.choice(np.flatnonzero(self.remaining)))
            return quota_action(self.space, self.index)
        if isinstance(self.space, gym.spaces.MultiDiscrete):
            return (self.space.start + self.rng.integers(0, self.space.nvec)).astype(self.space.dtype)
        low, high = bounded_box(self.space.low, self.space.high)
        return self.rng.uniform(low, high).astype(self.space.dtype)

    def next(self, episode_start: bool = False) -> Any:
        """The next action; `episode_start`: draw a new one (an episode's first frame)."""
        if self.left <= 0 or episode_start or (self.remaining is not None and not self.remaining[self.index]):
            self.action = self._draw()
            # max_hold 1 draws nothing here, so the uniform policy's actions stay what they were before holds
            self.left = int(self.rng.integers(1, self.max_hold + 1)) if self.max_hold > 1 else 1
        if self.remaining is not None:
            self.remaining[self.index] -= 1
        self.left -= 1
        return self.action

    def __call__(self, obs: np.ndarray, episode_start: np.ndarray) -> np.ndarray:
        """The behaviour-policy form `collect` steps a batch of one environment with."""
        if len(obs) != 1:
            raise ValueError("few-shot collection takes exactly one environment")
        return np.array([self.next(bool(episode_start[0]))])


def make_policy(name: str, num_actions: int, num_envs: int, seed: int = 0, *, max_hold: int = 16,
                agent: AgentPolicy | None = None) -> BehaviourPolicy:
    """Build a behaviour policy by name: "random", "held" (held random) or "sb3" (needs `agent`)."""
    if name == "random":
        return UniformRandomPolicy(num_actions, num_envs, seed)
    if name == "held":
        return HeldRandomPolicy(num_actions, num_envs, seed, max_hold)
    if name == "sb3":
        if agent is None:
            raise ValueError("policy 'sb3' needs the agent folder written by `adaworld train-agent`")
        return agent(num_actions)
    raise ValueError(f"unknown policy {name!r}; choose one of {POLICY_NAMES}")
