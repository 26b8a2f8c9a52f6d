"""Adapt the pretrained world model to any Gymnasium environment with RGB image observations
(`adaworld adapt --env ENV_ID`).

Read top to bottom: check that the environment is supported (RGB image observations of any size, or a Dict
of observations with such an image entry named by `obs_key`; a Discrete, MultiDiscrete, MultiBinary or Box
action space), play it with held-random actions until every action has its few-shot samples (frames resized
to the model's resolution; the first frames of episodes are kept as start states; an episode's last frame is
left out where the environment does not render it, as Procgen and ViZDoom), then adapt exactly as for Procgen.
The adapter records the environment id, the image entry, its action space, its original frame size and, where
the environment names them, its actions, so `gym.make("AdaWorld-v0", checkpoint=...)` rebuilds an env with the
same action space; its observations are the image alone (a Dict's other entries are not imagined).
"""

from __future__ import annotations

import operator
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from adaworld_gym.adaptation.action_map import check_action_space
from adaworld_gym.adaptation.adapt import FewShotData, adapt_to_data, few_shot_from_episodes
from adaworld_gym.adaptation.configs import REWARD_STEPS
from adaworld_gym.adaptation.simulator import AdaptedSimulator
from adaworld_gym.data.collect import play_episodes
from adaworld_gym.data.policies import QuotaRandomPolicy, few_shot_steps
from adaworld_gym.data.sources import (DOOM_SCENARIOS, DoomEpisodeEnd, doom_action_names, is_vizdoom,
                                       register_vizdoom)
from adaworld_gym.models.world_model import WorldModel

MAX_START_FRAMES = 16


def env_id_of(name: str) -> str:
    """The Gymnasium id of `name`: itself, or for a ViZDoom scenario named as `collect --source vizdoom` names
    it ("my_way_home", "doom/my_way_home"), its id ("VizdoomMyWayHome-v1")."""
    return DOOM_SCENARIOS.get(name.removeprefix("doom/"), name)


def make_env(env_id: str, env_kwargs: dict[str, Any] | None = None, obs_key: str | None = None) -> gym.Env:
    """`gym.make` of `env_id_of(env_id)`, with the ids gymnasium does not know by itself registered first
    (ale-py's "ALE/Breakout-v5", ViZDoom's "VizdoomBasic-v1"), ViZDoom's episode ends made Procgen's
    (`DoomEpisodeEnd`: no black frame after the last step), observing the `obs_key` entry alone of a Dict
    observation space (`image_observations`)."""
    env_id = env_id_of(env_id)
    if env_id.startswith("ALE/"):
        import ale_py

        gym.register_envs(ale_py)
    if is_vizdoom(env_id):
        register_vizdoom()
    env = gym.make(env_id, **(env_kwargs or {}))
    if is_vizdoom(env_id):
        env = DoomEpisodeEnd(env)
    try:
        return image_observations(env, env_id, obs_key)
    except ValueError:
        env.close()
        raise


def action_names(env: gym.Env, env_id: str) -> list[str] | None:
    """Names of the actions (Discrete) or buttons (MultiBinary) where the environment has them (ViZDoom's
    buttons), recorded in the adapter for keyboard play; None elsewhere."""
    return doom_action_names(env) if is_vizdoom(env_id) else None


def is_rgb_image(space: gym.Space) -> bool:
    return isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3 \
        and space.shape[-1] == 3


def image_observations(env: gym.Env, name: str, obs_key: str | None) -> gym.Env:
    """`env` itself, or for a Dict observation space `env` observing its `obs_key` entry alone (the world model
    imagines the image only). A Dict without `obs_key`, a key that is not an RGB image entry, or `obs_key` on
    another space is a ValueError naming the RGB image entries there are."""
    space = env.observation_space
    if not isinstance(space, gym.spaces.Dict):
        if obs_key is not None:
            raise ValueError(f"{name}: obs_key {obs_key!r} picks an entry of Dict observations, got {space}")
        return env
    images = [key for key, entry in space.spaces.items() if is_rgb_image(entry)]
    if obs_key is None or obs_key not in images:
        problem = "observations are a Dict: name its RGB image entry with obs_key (--obs-key)" if obs_key is None \
            else f"obs_key {obs_key!r} is not an RGB image entry of its Dict observations"
        raise ValueError(f"{name}: {problem}; RGB image entries (uint8 Box (H, W, 3)): {images or 'none'} of "
                         f"{list(space.spaces)}")
    return gym.wrappers.TransformObservation(env, operator.itemgetter(obs_key), space[obs_key])


def check_pixel_env(env: gym.Env, name: str) -> tuple[int, int]:
    """Fail with what is supported unless observations are RGB images and the action space is supported;
    returns the original frame size (H, W)."""
    space = env.observation_space
    if not is_rgb_image(space):
        raise ValueError(f"{name}: observations must be RGB images (a uint8 Box of shape (H, W, 3)), got {space}; "
                         "wrap the environment to return frames (for example with render_mode='rgb_array' and "
                         "gymnasium.wrappers.AddRenderObservation; for a Dict of observations, name its image "
                         "entry with obs_key)")
    try:
        check_action_space(env.action_space)
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from None
    return int(space.shape[0]), int(space.shape[1])


def collect_few_shot(env: gym.Env, samples_per_action: int, resolution: int = 64, seed: int = 0,
                     max_hold: int = 4, progress: bool = True) -> tuple[FewShotData, torch.Tensor]:
    """Play `env` with held-random actions for `few_shot_steps` steps; returns the transitions (frames resized
    to `resolution`) and the first frames of the episodes, (E, resolution, resolution, 3) uint8."""
    space = env.action_space
    policy = QuotaRandomPolicy(space, samples_per_action, seed, max_hold)
    episodes = play_episodes(env, policy, few_shot_steps(space, samples_per_action), resolution, seed, progress)
    starts = torch.from_numpy(np.stack([ep.frames[0] for ep in episodes[:MAX_START_FRAMES]]))
    return few_shot_from_episodes(episodes, space), starts


def adapt_env(world: WorldModel, env_id: str, env_kwargs: dict[str, Any] | None = None,
              samples_per_action: int = 100, finetune_steps: int = 800, batch_size: int = 32, lr: float = 1e-4,
              init: str = "average", reward_steps: int = REWARD_STEPS, seed: int = 0,
              progress: bool = True, obs_key: str | None = None) -> AdaptedSimulator:
    """Collect few-shot data from a registered Gymnasium environment and adapt `world` to it; `obs_key` names
    the RGB image entry of Dict observations."""
    env_id, env_kwargs = env_id_of(env_id), dict(env_kwargs or {})
    env = make_env(env_id, env_kwargs, obs_key)
    try:
        height, width = check_pixel_env(env, env_id)
        data, starts = collect_few_shot(env, samples_per_action, world.resolution, seed, progress=progress)
        max_steps = env.spec.max_episode_steps if env.spec is not None else None
        names = action_names(env, env_id)
    finally:
        env.close()
    metadata = {"env_kwargs": env_kwargs, "obs_key": obs_key, "samples_per_action": samples_per_action,
                "observation_size": [height, width], "max_episode_steps": max_steps, "action_names": names}
    return adapt_to_data(world, data, env.action_space, env_id, finetune_steps, batch_size, lr, init, reward_steps,
                         seed, progress, start_frames=starts, metadata=metadata)
