"""What an agent's training is told (`adaworld train-agent`): the only declaration of its options.

The command is built from `AgentConfig` (`config_cli`), its help from the comments on the fields, so this
module stays free of torch and stable-baselines3: the CLI imports it to list its options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from adaworld_gym.config_cli import check_at_least
from adaworld_gym.envs.procgen_games import check_game, resolve_actions


@dataclass
class AgentConfig:
    """Train a PPO agent in the learned simulator or the real game, evaluated on the real game's test levels."""

    game: str  # Procgen game
    out: Path  # run folder: tb/, agent/ (safetensors), evaluations.json
    # sim (AdaWorld-Procgen-v0, the learned simulator) or real (ProcgenReal-v0, the real game).
    where: str = field(default="sim", metadata={"flag": "--in"})
    steps: int = 100_000  # environment steps of training
    num_envs: int = 16  # environments stepped together (one forward pass of the simulator)
    actions: str = "full"  # Procgen action subset: full, moves, moves_noop
    adapter: Path | None = None  # the simulator's adapter (sim only); none: the shipped one for game and actions
    world_model: Path | None = None  # the simulator's world model (sim only); none: the shipped one
    denoising_steps: int = 3  # the simulator's sampler steps per frame
    eval_every: int = 10_000  # environment steps between real-game evaluations
    eval_levels: int = 16  # test levels 0..eval_levels-1, one episode each
    eval_max_steps: int | None = None  # per evaluation episode; none: Procgen's limit for the game

    # PPO, as Procgen's baselines use it (fewer steps per rollout: a CPU-sized batch).

    n_steps: int = 128  # PPO: steps per environment per rollout
    batch_size: int = 256  # PPO: minibatch size
    n_epochs: int = 3  # PPO: epochs over each rollout
    learning_rate: float = 5e-4  # PPO: Adam's learning rate
    gamma: float = 0.999  # PPO: discount
    gae_lambda: float = 0.95  # PPO: GAE's lambda
    ent_coef: float = 0.01  # PPO: entropy bonus weight
    seed: int = 0  # seeds the agent, the training levels and the simulator
    device: str = "auto"  # torch device of the agent and the simulator: auto, cpu, cuda

    def __post_init__(self) -> None:
        check_game(self.game)
        if self.where not in ("sim", "real"):
            raise ValueError(f"where (--in) must be 'sim' or 'real', got {self.where!r}")
        resolve_actions(self.actions)
        check_at_least(self, dict.fromkeys(("steps", "num_envs", "eval_every", "eval_levels", "n_steps", "batch_size",
                                            "n_epochs", "denoising_steps"), 1))
