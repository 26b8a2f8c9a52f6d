"""An adapted simulator: a pretrained world model plus what adaptation to one environment's action space adds.

The adapter folder is small (the action map and the reward model; the fine-tuned denoiser too when
fine-tuned; for environments other than Procgen, a few real first frames to start episodes from) and names the
world model it was made for, so one shipped world model serves every game. Its config holds the action space,
so a loaded simulator has exactly the original environment's actions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from torch import nn

from adaworld_gym.adaptation.action_map import (ActionMap, action_features, actions_to_tensor, feature_width,
                                                make_action_map, space_from_spec, space_to_spec)
from adaworld_gym.adaptation.reward_model import RewardModel, RewardPrediction
from adaworld_gym.envs.procgen_games import PROCGEN_ACTION_NAMES, resolve_actions
from adaworld_gym.io import read_json
from adaworld_gym.models.checkpoint import CONFIG_FILE, CheckpointError, load_checkpoint, save_checkpoint
from adaworld_gym.models.world_model import WorldModel

CHECKPOINT_KIND = "action-adapter"


def world_model_identity(world: WorldModel) -> dict[str, Any]:
    """What an adapter records about its world model, and checks when loaded with one."""
    return {"condition": world.condition.kind, "condition_dim": world.condition.dim,
            "trained_steps": world.metadata.get("trained_steps"), "resolution": world.resolution}


def adapter_metadata(folder: str | Path) -> dict[str, Any]:
    """What an adapter records (its game or environment, action subset, world model...), weights left unread."""
    return read_json(Path(folder) / CONFIG_FILE, "adapter checkpoint config").get("metadata", {})


def _reward_model(state: dict[str, torch.Tensor], space: gym.Space) -> RewardModel:
    reward_model = RewardModel(feature_width(space))
    reward_state = {k[13:]: v for k, v in state.items() if k.startswith("reward_model.")}
    reward_state.setdefault("thresholds", torch.zeros(2))  # adapters made before thresholds fired above 0
    reward_model.load_state_dict(reward_state)
    return reward_model


def reward_model_of(folder: str | Path, game: str, space: gym.Space,
                    combos: tuple[int, ...] | None = None) -> tuple[RewardModel, dict[str, Any]]:
    """The reward / episode-end model of an adapter (and its held-out scores), for another adapter of the same
    game, action space and Procgen action subset: it reads real frames and actions only, so it does not depend
    on the world model."""
    config, state, meta = load_checkpoint(folder, CHECKPOINT_KIND)
    combos = list(combos) if combos is not None else None
    if meta["game"] != game or config["action_space"] != space_to_spec(space) or meta.get("combos") != combos:
        raise CheckpointError(f"{folder}: an adapter for {meta['game']!r} with actions {config['action_space']} "
                              f"(combos {meta.get('combos')}), not {game!r} with {space_to_spec(space)} "
                              f"(combos {combos})")
    return _reward_model(state, space), meta["reward_model_held_out"]


class AdaptedSimulator(nn.Module):
    """`game` is a Procgen game (then `combos` are its action subset) or a Gymnasium environment id."""

    def __init__(self, world: WorldModel, game: str, action_space: gym.Space, action_map: ActionMap,
                 reward_model: RewardModel, metadata: dict[str, Any] | None = None,
                 combos: tuple[int, ...] | None = None, start_frames: torch.Tensor | None = None):
        super().__init__()
        self.world, self.game, self.action_space = world, game, action_space
        self.action_map, self.reward_model = action_map, reward_model
        self.combos = tuple(combos) if combos is not None else None
        self.start_frames = start_frames  # (N, H, W, 3) uint8 real first frames, for non-Procgen environments
        self.metadata = metadata or {}

    @property
    def num_actions(self) -> int:
        return int(self.action_space.n)

    @property
    def action_names(self) -> tuple[str, ...]:
        if self.combos is None:
            raise AttributeError(f"{self.game}: action names are known for Procgen action subsets only")
        return tuple(PROCGEN_ACTION_NAMES[c] for c in self.combos)

    def conditions(self, actions: Any) -> torch.Tensor:
        """Actions of a batch, in the space's own form -> (B, condition_dim) conditions on the model's device."""
        return self.action_map(actions_to_tensor(self.action_space, actions).to(self.world.device))

    def outcome(self, previous: torch.Tensor, following: torch.Tensor, actions: Any) -> RewardPrediction:
        features = action_features(self.action_space, actions_to_tensor(self.action_space, actions))
        return self.reward_model.predict(previous, following, features.to(self.world.device))

    def save_pretrained(self, folder: str | Path, metadata: dict[str, Any] | None = None,
                        finetuned: bool = False, dtype: torch.dtype | None = torch.float16) -> Path:
        state = {**{f"action_map.{k}": v for k, v in self.action_map.state_dict().items()},
                 **{f"reward_model.{k}": v for k, v in self.reward_model.state_dict().items()}}
        if finetuned:
            state.update({f"denoiser.{k}": v for k, v in self.world.denoiser.state_dict().items()})
        if self.start_frames is not None:
            state["start_frames"] = self.start_frames
        meta = {"game": self.game, "combos": list(self.combos) if self.combos is not None else None,
                "world_model": world_model_identity(self.world), "finetuned": finetuned,
                **self.metadata, **(metadata or {})}
        config = {"action_space": space_to_spec(self.action_space), "condition_dim": self.action_map.condition_dim}
        return save_checkpoint(folder, CHECKPOINT_KIND, config, state, meta, dtype)

    @classmethod
    def from_pretrained(cls, folder: str | Path, world: WorldModel, *, game: str | None = None,
                        actions: str | list[int] | None = None) -> "AdaptedSimulator":
        """Load an adapter onto `world`; the game, the Procgen action subset and the world model must be the
        ones it was made for, or it fails naming the difference."""
        config, state, meta = load_checkpoint(folder, CHECKPOINT_KIND)
        if game is not None and meta["game"] != game:
            raise CheckpointError(f"{folder}: adapted for {meta['game']!r}, not {game!r}")
        if actions is not None and list(resolve_actions(actions)) != meta["combos"]:
            raise CheckpointError(f"{folder}: made for actions {meta['combos']}, not {list(resolve_actions(actions))}")
        if meta["world_model"] != world_model_identity(world):
            raise CheckpointError(f"{folder}: made for another world model ({meta['world_model']} vs "
                                  f"{world_model_identity(world)})")
        space = space_from_spec(config["action_space"])
        action_map = make_action_map(space, config["condition_dim"])
        action_map.load_state_dict({k[11:]: v for k, v in state.items() if k.startswith("action_map.")})
        reward_model = _reward_model(state, space)
        if meta["finetuned"]:
            world.denoiser.load_state_dict({k[9:]: v for k, v in state.items() if k.startswith("denoiser.")})
        start_frames = state["start_frames"] if "start_frames" in state else None
        combos = tuple(meta["combos"]) if meta.get("combos") is not None else None
        return cls(world, meta["game"], space, action_map.to(world.device).eval(),
                   reward_model.to(world.device).eval(), meta, combos, start_frames)
