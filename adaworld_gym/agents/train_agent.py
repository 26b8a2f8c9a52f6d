"""`adaworld train-agent`: PPO (stable-baselines3) trained in the learned simulator or in the real game, and
evaluated on the real game as it trains.

Read top to bottom: build the training vector env (all copies stepped in one batched call, on Procgen's
training levels), make PPO with its CNN policy, and every `eval_every` steps play the policy in the real game
on a fixed set of test levels (one episode each), log the mean return to TensorBoard and save the policy
(safetensors + JSON, never pickle).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import ActorCriticCnnPolicy

from adaworld_gym.agents.configs import AgentConfig
from adaworld_gym.agents.sb3_vec import SameStepVecEnv
from adaworld_gym.envs.procgen_games import (TEST_LEVELS, TRAIN_LEVELS, episode_timeout, resolve_actions)
from adaworld_gym.envs.procgen_vector import ProcgenRealVectorEnv
from adaworld_gym.io import write_json
from adaworld_gym.models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

AGENT_KIND = "ppo-agent"


def training_env(config: AgentConfig) -> SameStepVecEnv:
    start, num = TRAIN_LEVELS
    if config.where == "real":
        env = ProcgenRealVectorEnv(config.num_envs, config.game, start_level=start, num_levels=num,
                                   actions=config.actions)
    else:
        from adaworld_gym.simulator.vector import AdaWorldProcgenVectorEnv

        env = AdaWorldProcgenVectorEnv(config.num_envs, config.game, actions=config.actions, adapter=config.adapter,
                                       world_model=config.world_model, denoising_steps=config.denoising_steps,
                                       start_level=start, num_levels=num, device=config.device)
    vec = SameStepVecEnv(env)
    vec.seed(config.seed)
    return vec


def real_returns(act: Callable[[np.ndarray], np.ndarray], game: str, actions: str, levels: int, max_steps: int,
                 seed: int = 0) -> dict[str, float]:
    """Return of `act` (observations (1, 64, 64, 3) -> actions (1,)) over one episode on each of test levels
    0..levels-1 in the real game: {"real_return": mean, "real_return_se": standard error of the mean}."""
    start, _ = TEST_LEVELS
    returns = np.zeros(levels)
    for level in range(start, start + levels):  # one env per level: every level is played exactly once
        env = ProcgenRealVectorEnv(1, game, start_level=level, num_levels=1, actions=actions)
        obs, _ = env.reset(seed=seed)
        for _ in range(max_steps):
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            returns[level - start] += float(reward[0])
            if terminated[0] or truncated[0]:
                break
        env.close()
    se = float(returns.std(ddof=1) / np.sqrt(levels)) if levels > 1 else float("nan")
    return {"real_return": float(returns.mean()), "real_return_se": se}


def save_agent(model: PPO, folder: Path, config: AgentConfig, metadata: dict[str, Any]) -> Path:
    record = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}
    state, stored = {}, set()
    for key, tensor in model.policy.state_dict().items():
        if tensor.data_ptr() not in stored:  # the shared CNN appears under three names: store it once
            stored.add(tensor.data_ptr())
            state[key] = tensor
    return save_checkpoint(folder, AGENT_KIND, record, state, metadata)


def load_agent(folder: str | Path, device: str = "cpu") -> tuple[ActorCriticCnnPolicy, dict[str, Any]]:
    """A policy written by `save_agent` (safetensors + JSON) and its training config; `policy.predict(obs)`."""
    record, state, _ = load_checkpoint(folder, AGENT_KIND)
    num_actions = len(resolve_actions(record["actions"]))
    # Channels first, as PPO saw frames through its VecTransposeImage; `predict` transposes (64, 64, 3) input.
    policy = ActorCriticCnnPolicy(spaces.Box(0, 255, (3, 64, 64), np.uint8), spaces.Discrete(num_actions),
                                  lr_schedule=lambda _: 0.0)
    # save_agent stored each shared tensor once: fill the other names from the one that was kept.
    names_by_tensor: dict[int, list[str]] = {}
    for key, tensor in policy.state_dict().items():
        names_by_tensor.setdefault(tensor.data_ptr(), []).append(key)
    for names in names_by_tensor.values():
        kept = [name for name in names if name in state]
        if not kept:
            raise CheckpointError(f"{folder}: the weights lack {names[0]} (not a policy of this shape)")
        state.update({name: state[kept[0]] for name in names})
    policy.load_state_dict(state)
    return policy.to(device).eval(), record


class RealGameEvaluation(BaseCallback):
    """Every `eval_every` environment steps: real-game return on the test levels, TensorBoard, a checkpoint."""

    def __init__(self, config: AgentConfig):
        super().__init__()
        self.config, self.history, self.next_eval = config, [], 0
        self.max_steps = config.eval_max_steps or episode_timeout(config.game, "hard")

    def evaluate(self) -> None:
        c = self.config
        policy = lambda obs: self.model.predict(obs, deterministic=False)[0]
        scores = {"steps": int(self.num_timesteps),
                  **real_returns(policy, c.game, c.actions, c.eval_levels, self.max_steps, c.seed)}
        self.history.append(scores)
        self.logger.record("eval/real_return", scores["real_return"])
        self.logger.dump(self.num_timesteps)
        save_agent(self.model, c.out / "agent", c, scores)
        write_json(c.out / "evaluations.json", self.history)

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.next_eval:
            self.evaluate()
            self.next_eval += self.config.eval_every
        return True

    def _on_training_end(self) -> None:
        if self.history[-1]["steps"] != self.num_timesteps:
            self.evaluate()


def train_agent(config: AgentConfig, progress: bool = True) -> list[dict[str, Any]]:
    """Train; returns the real-game evaluations [{"steps", "real_return", "real_return_se"}, ...] (also in OUT/evaluations.json)."""
    env = training_env(config)
    model = PPO("CnnPolicy", env, n_steps=config.n_steps, batch_size=config.batch_size, n_epochs=config.n_epochs,
                learning_rate=config.learning_rate, gamma=config.gamma, gae_lambda=config.gae_lambda,
                ent_coef=config.ent_coef, seed=config.seed, device=config.device, verbose=0,
                tensorboard_log=str(config.out / "tb"))
    callback = RealGameEvaluation(config)
    model.learn(config.steps, callback=callback, progress_bar=progress)
    env.close()
    return callback.history
