"""Learned simulators as Gymnasium environments.

- `AdaWorld-Procgen-v0`: a Procgen game, with the real game's spaces; `reset()` starts from a real level's first
  frame (drawn from a pool of START_POOL level starts the real game renders once, when the env is made).
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
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from adaworld_gym.adaptation.simulator import AdaptedSimulator, adapter_metadata
from adaworld_gym.data.sources import resize_frame
from adaworld_gym.envs.procgen_batch import FRAME_SHAPE, ProcgenBatch
from adaworld_gym.envs.procgen_games import check_game, episode_timeout
from adaworld_gym.envs.rendering import HumanWindow
from adaworld_gym.models.checkpoint import CheckpointError
from adaworld_gym.models.diffusion.sampler import SamplerConfig
from adaworld_gym.models.world_model import RolloutState, WorldModel
from adaworld_gym.weights import pretrained_path

START_POOL = 64  # level starts a Procgen simulator draws its resets from


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def load_simulator(game: str, actions: str | list[int] = "full", adapter: str | Path | None = None,
                   world_model: str | Path | None = None, device: str = "auto") -> AdaptedSimulator:
    """The shipped (or given) world model with the shipped (or given) adapter for `game` and `actions`."""
    check_game(game)
    if adapter is None:
        if not isinstance(actions, str):
            raise ValueError("shipped adapters exist for the named action subsets; pass adapter= for a custom list")
        adapter = pretrained_path(f"adapters/{game}-{actions}")
    world = WorldModel.from_pretrained(world_model or pretrained_path("wm-cpu"), device=resolve_device(device))
    return AdaptedSimulator.from_pretrained(adapter, world, game=game, actions=actions)


def procgen_level_starts(game: str, count: int, start_level: int = 0, num_levels: int = 0) -> np.ndarray:
    """First frames of `count` Procgen levels, (count, 64, 64, 3) uint8 (a Procgen batch takes ~0.3 s to build,
    so simulators render their pool of level starts once)."""
    return ProcgenBatch(game, count, start_level=start_level, num_levels=num_levels, seed=0).obs.copy()


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
        frames, self.state = self.world.step(self.state, self.sim.conditions(actions), self.sampler, self.generator)
        previous = torch.from_numpy(self.obs).permute(0, 3, 1, 2).to(self.world.device)
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


def procgen_simulator(game: str, actions: str | list[int], adapter: str | Path | None,
                      world_model: str | Path | None, max_episode_steps: int | None, start_level: int,
                      num_levels: int, device: str) -> tuple[AdaptedSimulator, np.ndarray, int]:
    """What both Procgen learned envs are built from: the simulator, the pool of real first frames and the
    step limit (default Procgen's own for the game)."""
    simulator = load_simulator(game, actions, adapter, world_model, device)
    pool = procgen_level_starts(game, START_POOL, start_level, num_levels)
    return simulator, pool, max_episode_steps or episode_timeout(game, "hard")


def load_adapted_env(checkpoint: str | Path, world_model: str | Path | None = None,
                     device: str = "auto") -> AdaptedSimulator:
    """An adapter made by `adaworld adapt --env` on its world model (given, recorded in it, or the shipped one)."""
    meta = adapter_metadata(checkpoint)
    folder = world_model or meta.get("world_model_folder") or pretrained_path("wm-cpu")
    world = WorldModel.from_pretrained(folder, device=resolve_device(device))
    simulator = AdaptedSimulator.from_pretrained(checkpoint, world)
    if simulator.start_frames is None:
        raise ValueError(f"{checkpoint}: has no start frames; a Procgen adapter is used with AdaWorld-Procgen-v0")
    return simulator


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
