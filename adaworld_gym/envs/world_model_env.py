"""`AdaWorld-Procgen-v0`: the learned simulator of a Procgen game, with the real game's spaces.

`reset()` starts from a real level's first frame (drawn from a pool of `start_pool` level starts the real game
renders once, when the env is made)
or, with `options={"frames": frames}`, from 1..K given frames (uint8, oldest first). `step(a)` maps the action
through the adapted action table to a latent action, runs the diffusion sampler once for every copy in the
batch, and asks the reward model for reward and episode end; `truncated` comes at `max_episode_steps`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from adaworld_gym.adaptation.simulator import AdaptedSimulator
from adaworld_gym.envs.procgen_batch import FRAME_SHAPE, ProcgenBatch
from adaworld_gym.envs.procgen_games import check_game, episode_timeout
from adaworld_gym.envs.rendering import HumanWindow
from adaworld_gym.models.diffusion.sampler import SamplerConfig
from adaworld_gym.models.world_model import RolloutState, WorldModel
from adaworld_gym.weights import pretrained_path


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


class SimulatorBatch:
    """N imagined copies of one game stepped together: the core both Gymnasium envs wrap."""

    def __init__(self, simulator: AdaptedSimulator, num: int, *, denoising_steps: int = 3,
                 max_episode_steps: int | None = None, start_level: int = 0, num_levels: int = 0,
                 start_pool: int = 64):
        self.sim, self.num = simulator, num
        self.world = simulator.world
        self.sampler = self.world.sampler(SamplerConfig(num_steps=denoising_steps))
        self.max_episode_steps = max_episode_steps or episode_timeout(simulator.game, "hard")
        # Level starts are rendered once here, not at every reset (a Procgen batch takes ~0.3 s to build).
        self.pool = ProcgenBatch(simulator.game, start_pool, start_level=start_level, num_levels=num_levels,
                                 seed=0).obs.copy()
        self.obs = np.zeros((num, *FRAME_SHAPE), dtype=np.uint8)
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
        if frames.dtype != np.uint8 or frames.ndim != 5 or frames.shape[0] != self.num or \
                frames.shape[2:] != FRAME_SHAPE or not 1 <= frames.shape[1] <= self.world.memory:
            raise ValueError(f"start frames must be uint8 of shape ({self.num}, T, 64, 64, 3) with 1 <= T <= "
                             f"{self.world.memory}, got {frames.dtype} {frames.shape}")
        self.state = self.world.start(torch.from_numpy(frames).permute(0, 1, 4, 2, 3))
        self.obs, self.elapsed = frames[:, -1].copy(), np.zeros(self.num, dtype=np.int64)
        return self.obs

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, ...]:
        actions = np.asarray(actions)
        if actions.shape != (self.num,) or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(f"expected {self.num} integer actions, got {actions.dtype} array of shape {actions.shape}")
        if actions.min() < 0 or actions.max() >= self.sim.num_actions:
            raise ValueError(f"actions must be in [0, {self.sim.num_actions}), got {actions.tolist()}")
        device = self.world.device
        acts = torch.from_numpy(actions).to(device)
        frames, self.state = self.world.step(self.state, self.sim.action_map(acts), self.sampler, self.generator)
        previous = torch.from_numpy(self.obs).permute(0, 3, 1, 2).to(device)
        outcome = self.sim.reward_model.predict(previous, frames, acts)
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
        self.state.memory[idx], self.state.lengths[idx] = fresh.memory, fresh.lengths
        self.obs[index], self.elapsed[index] = starts, 0


class AdaWorldProcgenEnv(gym.Env):
    """The learned simulator of one Procgen game (see the module docstring).

    Args:
        game: one of the 16 Procgen games; actions: "full", "moves", "moves_noop" (as `ProcgenReal-v0`).
        adapter, world_model: folders; default: the shipped ones.
        denoising_steps: sampler steps per frame (more: slower, sharper).
        max_episode_steps: truncation; default Procgen's own limit for the game.
        start_level, num_levels: levels whose first frames start episodes (0, 0: any level).
        device: "cpu", "cuda" or "auto".
    """

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 15}

    def __init__(self, game: str = "coinrun", *, actions: str | list[int] = "full", adapter: str | Path | None = None,
                 world_model: str | Path | None = None, denoising_steps: int = 3, max_episode_steps: int | None = None,
                 start_level: int = 0, num_levels: int = 0, device: str = "auto", render_mode: str | None = None):
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.simulator = load_simulator(game, actions, adapter, world_model, device)
        self._batch = SimulatorBatch(self.simulator, 1, denoising_steps=denoising_steps,
                                     max_episode_steps=max_episode_steps, start_level=start_level,
                                     num_levels=num_levels)
        self.game, self.action_names = game, self.simulator.action_names
        self.observation_space = gym.spaces.Box(0, 255, FRAME_SHAPE, dtype=np.uint8)
        self.action_space = gym.spaces.Discrete(self.simulator.num_actions)
        self.render_mode = render_mode
        self._window = HumanWindow(f"AdaWorld {game}") if render_mode == "human" else None
        self._needs_reset = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        frames = (options or {}).get("frames")
        if frames is not None:
            self._batch.restart(int(self.np_random.integers(2**31)))  # seeds the sampler
            obs = self._batch.start_from(np.asarray(frames)[None])[0]
        else:
            obs = self._batch.restart(int(self.np_random.integers(2**31)))[0]
        self._needs_reset = False
        self._show()
        return obs.copy(), {}

    def step(self, action):
        if self._needs_reset:
            raise gym.error.ResetNeeded("call reset() before step(), and again after an episode ended")
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        obs, reward, terminated, truncated = self._batch.step(np.array([int(action)]))
        self._needs_reset = bool(terminated[0] or truncated[0])
        self._show()
        return obs[0], float(reward[0]), bool(terminated[0]), bool(truncated[0]), {}

    def _show(self) -> None:
        if self._window is not None:
            self._window.show(self._batch.obs[0])

    def render(self):
        return self._batch.obs[0].copy() if self.render_mode == "rgb_array" else None

    def close(self):
        if self._window is not None:
            self._window.close()


class AdaWorldProcgenVectorEnv(VectorEnv):
    """`gym.make_vec("AdaWorld-Procgen-v0", num_envs=N)`: all N copies in one batched forward pass per step,
    with same-step autoreset as `ProcgenReal-v0`'s vector env (`info["final_obs"]` holds an ended episode's
    last frame). Arguments are those of `AdaWorldProcgenEnv`."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15, "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 1, game: str = "coinrun", *, actions: str | list[int] = "full",
                 adapter: str | Path | None = None, world_model: str | Path | None = None, denoising_steps: int = 3,
                 max_episode_steps: int | None = None, start_level: int = 0, num_levels: int = 0,
                 device: str = "auto", render_mode: str | None = None):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"the vector env renders only 'rgb_array', got render_mode={render_mode!r}")
        self.simulator = load_simulator(game, actions, adapter, world_model, device)
        self._batch = SimulatorBatch(self.simulator, num_envs, denoising_steps=denoising_steps,
                                     max_episode_steps=max_episode_steps, start_level=start_level,
                                     num_levels=num_levels)
        self.num_envs, self.game, self.render_mode = num_envs, game, render_mode
        self.action_names = self.simulator.action_names
        self.single_observation_space = gym.spaces.Box(0, 255, FRAME_SHAPE, dtype=np.uint8)
        self.single_action_space = gym.spaces.Discrete(self.simulator.num_actions)
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
