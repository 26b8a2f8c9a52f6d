"""A trained agent as the behaviour policy of data collection (`adaworld collect --policy sb3 --agent DIR`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adaworld_gym.agents.train_agent import load_agent


class SB3Policy:
    """A PPO agent saved by `adaworld train-agent` (its `agent/` folder: safetensors + JSON), sampled
    stochastically. SB3's own .zip files are refused: they unpickle code on load."""

    def __init__(self, path: str | Path, num_actions: int):
        path = Path(path)
        if path.suffix == ".zip":
            raise ValueError(f"{path}: stable-baselines3 .zip files are not loaded (pickle); give the agent/ "
                             "folder that `adaworld train-agent` writes")
        self.policy, record = load_agent(path)
        n = self.policy.action_space.n
        if n != num_actions:
            raise ValueError(f"{path}: the policy has {n} actions ({record['actions']!r}), the environment "
                             f"{num_actions}")

    def __call__(self, obs: np.ndarray, episode_start: np.ndarray) -> np.ndarray:
        actions, _ = self.policy.predict(obs, deterministic=False)
        return np.asarray(actions, dtype=np.int64)
