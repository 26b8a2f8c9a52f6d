"""An adapted simulator: a pretrained world model plus what adaptation to one game's action space adds.

The adapter folder is small (the action table and the reward model; the fine-tuned denoiser too when
fine-tuned) and names the world model it was made for, so one shipped world model serves every game.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from adaworld_gym.adaptation.action_map import DiscreteActionMap
from adaworld_gym.adaptation.reward_model import RewardModel
from adaworld_gym.envs.procgen_games import PROCGEN_ACTION_NAMES, resolve_actions
from adaworld_gym.models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from adaworld_gym.models.world_model import WorldModel

CHECKPOINT_KIND = "action-adapter"


def world_model_identity(world: WorldModel) -> dict[str, Any]:
    """What an adapter records about its world model, and checks when loaded with one."""
    return {"condition": world.condition.kind, "condition_dim": world.condition.dim,
            "trained_steps": world.metadata.get("trained_steps"), "resolution": world.resolution}


class AdaptedSimulator(nn.Module):
    def __init__(self, world: WorldModel, game: str, combos: tuple[int, ...], action_map: DiscreteActionMap,
                 reward_model: RewardModel, metadata: dict[str, Any] | None = None):
        super().__init__()
        self.world, self.game, self.combos = world, game, tuple(combos)
        self.action_map, self.reward_model = action_map, reward_model
        self.metadata = metadata or {}

    @property
    def num_actions(self) -> int:
        return len(self.combos)

    @property
    def action_names(self) -> tuple[str, ...]:
        return tuple(PROCGEN_ACTION_NAMES[c] for c in self.combos)

    def save_pretrained(self, folder: str | Path, metadata: dict[str, Any] | None = None,
                        finetuned: bool = False, dtype: torch.dtype | None = torch.float16) -> Path:
        state = {**{f"action_map.{k}": v for k, v in self.action_map.state_dict().items()},
                 **{f"reward_model.{k}": v for k, v in self.reward_model.state_dict().items()}}
        if finetuned:
            state.update({f"denoiser.{k}": v for k, v in self.world.denoiser.state_dict().items()})
        meta = {"game": self.game, "combos": list(self.combos), "num_actions": self.num_actions,
                "world_model": world_model_identity(self.world), "finetuned": finetuned,
                **self.metadata, **(metadata or {})}
        config = {"num_actions": self.num_actions, "condition_dim": self.action_map.condition_dim}
        return save_checkpoint(folder, CHECKPOINT_KIND, config, state, meta, dtype)

    @classmethod
    def from_pretrained(cls, folder: str | Path, world: WorldModel, *, game: str | None = None,
                        actions: str | list[int] | None = None) -> "AdaptedSimulator":
        """Load an adapter onto `world`; the game, the action subset and the world model must be the ones it
        was made for, or it fails naming the difference."""
        config, state, meta = load_checkpoint(folder, CHECKPOINT_KIND)
        if game is not None and meta["game"] != game:
            raise CheckpointError(f"{folder}: adapted for {meta['game']!r}, not {game!r}")
        if actions is not None and list(resolve_actions(actions)) != meta["combos"]:
            raise CheckpointError(f"{folder}: made for actions {meta['combos']}, not {list(resolve_actions(actions))}")
        if meta["world_model"] != world_model_identity(world):
            raise CheckpointError(f"{folder}: made for another world model ({meta['world_model']} vs "
                                  f"{world_model_identity(world)})")
        action_map = DiscreteActionMap(config["num_actions"], config["condition_dim"])
        action_map.load_state_dict({k[11:]: v for k, v in state.items() if k.startswith("action_map.")})
        reward_model = RewardModel(config["num_actions"])
        reward_model.load_state_dict({k[13:]: v for k, v in state.items() if k.startswith("reward_model.")})
        if meta["finetuned"]:
            world.denoiser.load_state_dict({k[9:]: v for k, v in state.items() if k.startswith("denoiser.")})
        return cls(world, meta["game"], tuple(meta["combos"]), action_map.to(world.device),
                   reward_model.to(world.device).eval(), meta)
