"""The real environment next to its learned simulator, for `adaworld play` and `adaworld compare`: a Procgen game
with its adapter (shipped or given), or an environment adapted with `adaworld adapt --env`, named by its adapter
alone (the real environment is made again from what the adapter records). Both show frames at the model's
resolution, so they sit side by side, and the simulator starts each episode from the real first frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from adaworld_gym.adaptation.env_adapt import make_env
from adaworld_gym.adaptation.simulator import adapter_metadata
from adaworld_gym.config_cli import check_at_least
from adaworld_gym.data.sources import resized
from adaworld_gym.envs.procgen_games import check_game, resolve_actions
from adaworld_gym.envs.procgen_real import ProcgenRealEnv
from adaworld_gym.simulator.env import AdaWorldEnv, AdaWorldProcgenEnv

SIDES = ("real", "sim")


@dataclass
class SideBySide:
    """`envs`: "real" and/or "sim". `combos`: a Procgen game's action subset; `action_names`: an adapted
    environment's, where its adapter records them (ViZDoom's buttons). `settings`: what names the pair in
    reports."""

    name: str
    envs: dict[str, gym.Env]
    combos: tuple[int, ...] | None = None
    action_names: list[str] | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def action_space(self) -> gym.Space:
        return next(iter(self.envs.values())).action_space

    def restart(self, seed: int) -> dict[str, np.ndarray]:
        """A new episode on every side; side by side, the simulator starts from the real first frame."""
        obs = {}
        if "real" in self.envs:
            obs["real"] = self.envs["real"].reset(seed=seed)[0]
        if "sim" in self.envs:
            options = {"frames": obs["real"][None]} if "real" in obs else None
            obs["sim"] = self.envs["sim"].reset(seed=seed, options=options)[0]
        return obs

    def close(self) -> None:
        for env in self.envs.values():
            env.close()


@dataclass
class SideBySideConfig:
    """What `play` and `compare` open: the real environment and its simulator, and how the simulator runs."""

    # Procgen game (default: the adapter's, else coinrun); none with an adapter made by adapt --env, which names
    # its environment.
    game: str | None = None
    actions: str = "full"  # Procgen action subset: full or moves (shipped adapters)
    level: int = 0  # real level to start from (Procgen)
    denoising_steps: int = 3  # the simulator's sampler steps per frame
    # Adapter folder (of a Procgen game, or made by adapt --env); none: the shipped one for game and actions.
    adapter: Path | None = None
    world_model: Path | None = None  # world model folder; none: the shipped one (or the one the adapter names)
    device: str = "auto"  # torch device of the simulator: auto, cpu, cuda
    seed: int = 0  # seeds the episode starts, the actions and the simulator

    def __post_init__(self) -> None:
        if self.game is not None:
            check_game(self.game)
        resolve_actions(self.actions)
        check_at_least(self, {"level": 0, "denoising_steps": 1})


def open_side_by_side(sides: tuple[str, ...], config: SideBySideConfig) -> SideBySide:
    """The `sides` of a Procgen game (`config.game`, default the adapter's or coinrun, at `config.level` with
    `config.actions`), or of the environment an `adapt --env` adapter was made for (then no game: the adapter
    names it)."""
    game, actions, level, adapter = config.game, config.actions, config.level, config.adapter
    world_model, denoising_steps, device = config.world_model, config.denoising_steps, config.device
    meta = adapter_metadata(adapter) if adapter is not None else {}
    if adapter is None or meta.get("combos") is not None:  # Procgen adapters record their action subset
        game = game or meta.get("game", "coinrun")
        envs: dict[str, gym.Env] = {}
        if "real" in sides:
            envs["real"] = ProcgenRealEnv(game, start_level=level, num_levels=1, actions=actions)
        if "sim" in sides:
            envs["sim"] = AdaWorldProcgenEnv(game, actions=actions, adapter=adapter, world_model=world_model,
                                             denoising_steps=denoising_steps, device=device)
        return SideBySide(game, envs, combos=resolve_actions(actions), settings={"level": level, "actions": actions})
    if game is not None:
        raise ValueError(f"{adapter}: adapted with `adapt --env` to {meta['game']}, which it names; give no game "
                         f"(--game) with it")
    envs = {}
    if "real" in sides:
        envs["real"] = resized(make_env(meta["game"], meta["env_kwargs"], meta["obs_key"]),
                               meta["world_model"]["resolution"])
    if "sim" in sides:
        envs["sim"] = AdaWorldEnv(adapter, world_model=world_model, denoising_steps=denoising_steps, device=device)
    return SideBySide(meta["game"], envs, action_names=meta.get("action_names"), settings={"adapter": str(adapter)})
