"""What an adaptation is told (`adaworld adapt`): the only declaration of its options.

The command is built from `AdaptConfig` (`config_cli`), its help from the comments on the fields, so this module
stays free of torch: the CLI imports it to list its options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adaworld_gym.config_cli import check_at_least
from adaworld_gym.envs.procgen_games import check_game, resolve_actions

# Reward model training steps: on 100k random starpilot steps the held-out reward precision / recall was
# 0.12 / 0.12 after 400 steps and 0.40 / 0.42 after 1,500 (`benchmarks/reward_model.py --steps`).
REWARD_STEPS = 1500
ACTION_MAP_INITS = ("average", "random")


@dataclass
class AdaptConfig:
    """Adapt the pretrained world model to real actions from few interactions (+ reward model): a Procgen game
    from a few-shot dataset, or any Gymnasium pixel environment (--env)."""

    out: Path  # adapter folder to write
    game: str | None = None  # Procgen game the few-shot --dataset comes from
    dataset: Path | None = None  # few-shot dataset (adaworld collect --per-action N)
    actions: str = "full"  # Procgen action subset the data was collected with
    # Or any Gymnasium env id with RGB image observations (or a ViZDoom scenario named as in collect:
    # my_way_home): the few-shot data is collected from it.
    env: str | None = None
    env_kwargs: dict[str, Any] = field(default_factory=dict)  # keyword arguments for gym.make(--env)
    # With --env and Dict observations: the RGB image entry to learn (e.g. screen); the learned env observes it
    # alone.
    obs_key: str | None = None
    # With --env: samples per action (per value of a MultiDiscrete dimension, per MultiBinary button pressed
    # alone and all released, per Box direction).
    samples_per_action: int = 100
    world_model: Path | None = None  # pretrained world model; none: the shipped one
    finetune_steps: int = 800  # fine-tuning steps of denoiser and action map (0: averaged latents only)
    init: str = "average"  # action map start: average (AdaWorld: each action's mean latent action) or random
    batch_size: int = 32  # fine-tuning batch size
    lr: float = 1e-4  # denoiser learning rate (the action map gets 10x)
    reward_steps: int = REWARD_STEPS  # training steps of the reward / episode-end model
    # Keep the reward / episode-end model of this adapter (same game and actions; it does not depend on the world
    # model) instead of fitting one (Procgen only).
    reward_model_from: Path | None = None
    device: str = "auto"  # torch device: auto, cpu, cuda
    seed: int = 0  # seeds the fine-tuning, the reward model and (--env) the few-shot collection

    def __post_init__(self) -> None:
        if (self.env is None) == (self.game is None or self.dataset is None):
            raise ValueError("give either --env ENV_ID, or --game and --dataset (a Procgen few-shot dataset)")
        if self.env is not None and self.reward_model_from is not None:
            raise ValueError("--reward-model-from is for Procgen adapters (--game, --dataset)")
        if self.env is None and self.obs_key is not None:
            raise ValueError("--obs-key names an image entry of --env's Dict observations; give it with --env")
        if self.game is not None:
            check_game(self.game)
            resolve_actions(self.actions)
        if self.init not in ACTION_MAP_INITS:
            raise ValueError(f"init must be one of {ACTION_MAP_INITS}, got {self.init!r}")
        check_at_least(self, {"samples_per_action": 1, "finetune_steps": 0, "batch_size": 1, "lr": 0.0,
                              "reward_steps": 0})
