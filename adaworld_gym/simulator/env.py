"""Learned simulators as Gymnasium environments.

- `AdaWorld-Procgen-v0`: a Procgen game, with the real game's spaces; `reset()` starts from a real level's first
  frame (drawn from a pool of `loading.START_POOL` level starts the real game renders once, when the env is
  made).
- `AdaWorld-v0`: any environment adapted with `adaworld adapt --env` (its checkpoint holds a few real first
  frames to start from), with exactly the original action space. Its observations are RGB frames: for an
  environment with Dict observations, the image entry it was adapted on (`obs_key`) alone, as a Box, since the
  world model imagines only that image.

Both: `reset(options={"frames": frames})` starts from 1..K given frames (uint8, oldest first). `step(a)` maps
the action through the adapted action map to a latent action, runs the diffusion sampler once for every copy in
the batch, and asks the reward model for reward and episode end; `truncated` comes at `max_episode_steps`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import gymnasium as gym
import numpy as np

from adaworld_gym.adaptation.simulator import AdaptedSimulator
from adaworld_gym.data.sources import resize_frame
from adaworld_gym.envs.rendering import HumanWindow
from adaworld_gym.models.checkpoint import CheckpointError
from adaworld_gym.simulator.batch import SimulatorBatch
from adaworld_gym.simulator.loading import load_adapted_env, procgen_simulator


class LearnedEnv(gym.Env):
    """One imagined copy as a `gym.Env`; the subclasses say where the simulator and its start frames come from.

    `output_size` (H, W): frames are resized to it on the way out (an environment's original size)."""

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 15}

    def __init__(self, simulator: AdaptedSimulator, pool: np.ndarray, max_episode_steps: int, *,
                 denoising_steps: int = 3, memory_noise: float = 0.0, render_mode: str | None = None,
                 title: str = "AdaWorld", output_size: tuple[int, int] | None = None):
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.simulator = simulator
        self._batch = SimulatorBatch(simulator, 1, pool, max_episode_steps, denoising_steps=denoising_steps,
                                     memory_noise=memory_noise)
        self.output_size = tuple(output_size) if output_size else None
        shape = (*self.output_size, 3) if self.output_size else self._batch.frame_shape
        self.observation_space = gym.spaces.Box(0, 255, shape, dtype=np.uint8)
        self.action_space = simulator.action_space
        self.render_mode = render_mode
        self._window = HumanWindow(title) if render_mode == "human" else None
        self._needs_reset = True

    def _out(self, frame: np.ndarray) -> np.ndarray:
        if self.output_size is None:
            return frame.copy()
        return cv2.resize(frame, self.output_size[::-1], interpolation=cv2.INTER_LINEAR)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        frames = (options or {}).get("frames")
        self._batch.restart(int(self.np_random.integers(2**31)))  # seeds the sampler and picks a start frame
        if frames is not None:
            frames = np.asarray(frames)
            if frames.ndim == 4 and frames.dtype == np.uint8 and self.output_size is not None:
                frames = np.stack([resize_frame(f, self.simulator.world.resolution) for f in frames])
            self._batch.start_from(frames[None])
        self._needs_reset = False
        self._show()
        return self._out(self._batch.obs[0]), {}

    def step(self, action):
        if self._needs_reset:
            raise gym.error.ResetNeeded("call reset() before step(), and again after an episode ended")
        obs, reward, terminated, truncated = self._batch.step(np.asarray(action)[None])
        self._needs_reset = bool(terminated[0] or truncated[0])
        self._show()
        return self._out(obs[0]), float(reward[0]), bool(terminated[0]), bool(truncated[0]), {}

    def _show(self) -> None:
        if self._window is not None:
            self._window.show(self._out(self._batch.obs[0]))

    def render(self):
        return self._out(self._batch.obs[0]) if self.render_mode == "rgb_array" else None

    def close(self):
        if self._window is not None:
            self._window.close()


class AdaWorldProcgenEnv(LearnedEnv):
    """The learned simulator of one Procgen game (see the module docstring).

    Args:
        game: one of the 16 Procgen games; actions: "full", "moves", "moves_noop" (as `ProcgenReal-v0`).
        adapter, world_model: folders; default: the shipped ones.
        denoising_steps: sampler steps per frame (more: slower, sharper).
        memory_noise: noise level the sampler adds to the memory frames (0.1 to 0.3 slows the drift of long
            rollouts; README, World model vs baselines).
        max_episode_steps: truncation; default Procgen's own limit for the game.
        start_level, num_levels: levels whose first frames start episodes (0, 0: any level).
        device: "cpu", "cuda" or "auto".
    """

    def __init__(self, game: str = "coinrun", *, actions: str | list[int] = "full", adapter: str | Path | None = None,
                 world_model: str | Path | None = None, denoising_steps: int = 3, memory_noise: float = 0.0,
                 max_episode_steps: int | None = None, start_level: int = 0, num_levels: int = 0,
                 device: str = "auto", render_mode: str | None = None):
        simulator, pool, max_steps = procgen_simulator(game, actions, adapter, world_model, max_episode_steps,
                                                       start_level, num_levels, device)
        super().__init__(simulator, pool, max_steps, denoising_steps=denoising_steps, memory_noise=memory_noise,
                         render_mode=render_mode, title=f"AdaWorld {game}")
        self.game, self.action_names = game, simulator.action_names


class AdaWorldEnv(LearnedEnv):
    """`gym.make("AdaWorld-v0", checkpoint=...)`: the learned simulator of any environment adapted with
    `adaworld adapt --env`, with exactly its action space. Observations: RGB frames as a uint8 Box; for an
    environment with Dict observations, its image entry alone (the other entries are not imagined).

    Args:
        checkpoint: the adapter folder; world_model: default the one recorded in it, else the shipped one.
        obs_key: the Dict entry the adapter was made from (recorded in it); given, it must be that one, so a
            training script fails at once when it loads an adapter of other observations.
        original_size: return frames at the environment's original size (else the model's resolution).
        max_episode_steps: truncation; default the environment's own limit (else 1000).
        denoising_steps, memory_noise, device, render_mode: as `AdaWorld-Procgen-v0`.
    """

    def __init__(self, checkpoint: str | Path, *, world_model: str | Path | None = None, obs_key: str | None = None,
                 denoising_steps: int = 3, memory_noise: float = 0.0, max_episode_steps: int | None = None,
                 original_size: bool = False, device: str = "auto", render_mode: str | None = None):
        simulator = load_adapted_env(checkpoint, world_model, device)
        meta = simulator.metadata
        if obs_key is not None and obs_key != meta.get("obs_key"):
            made_from = f"the {meta['obs_key']!r} entry" if meta.get("obs_key") else "whole (non-Dict) observations"
            raise CheckpointError(f"{checkpoint}: adapted on {made_from} of {simulator.game}, not obs_key {obs_key!r}")
        super().__init__(simulator, simulator.start_frames.cpu().numpy(),
                         max_episode_steps or meta.get("max_episode_steps") or 1000, denoising_steps=denoising_steps,
                         memory_noise=memory_noise, render_mode=render_mode, title=f"AdaWorld {simulator.game}",
                         output_size=tuple(meta["observation_size"]) if original_size else None)
        self.env_id, self.obs_key = simulator.game, meta.get("obs_key")
