"""Behaviour policies that drive data collection, one action per environment of a batch per call."""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

POLICY_NAMES = ("random", "held", "sb3")


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


class QuotaRandomPolicy:
    """Random actions among those whose quota is not yet used up, each held for 1 to `max_hold` steps (uniform;
    1: a new action every step): exactly `per_action` steps of each action in total, for few-shot adaptation
    data. A hold ends early when its action's quota runs out. Works on one environment."""

    def __init__(self, num_actions: int, per_action: int, seed: int = 0, max_hold: int = 1):
        if per_action < 1:
            raise ValueError(f"per_action must be >= 1, got {per_action}")
        if max_hold < 1:
            raise ValueError(f"max_hold must be >= 1, got {max_hold}")
        self.remaining = np.full(num_actions, per_action, dtype=np.int64)
        self.max_hold = max_hold
        self.rng = np.random.default_rng(seed)
        self.action, self.left = 0, 0

    @property
    def done(self) -> bool:
        return not self.remaining.any()

    def __call__(self, obs: np.ndarray, episode_start: np.ndarray) -> np.ndarray:
        if len(obs) != 1:
            raise ValueError("few-shot collection takes exactly one environment")
        if self.left <= 0 or episode_start[0] or not self.remaining[self.action]:
            self.action = int(self.rng.choice(np.flatnonzero(self.remaining)))
            # max_hold 1 draws nothing here, so the uniform policy's actions stay what they were before holds
            self.left = int(self.rng.integers(1, self.max_hold + 1)) if self.max_hold > 1 else 1
        self.remaining[self.action] -= 1
        self.left -= 1
        return np.array([self.action])


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
