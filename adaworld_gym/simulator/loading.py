"""Where a learned simulator comes from: the shipped (or given) world model with an adapter, and for Procgen
the pool of real level starts its episodes begin from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from adaworld_gym.adaptation.simulator import AdaptedSimulator, adapter_metadata
from adaworld_gym.envs.procgen_batch import ProcgenBatch
from adaworld_gym.envs.procgen_games import check_game, episode_timeout
from adaworld_gym.models.world_model import WorldModel
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
