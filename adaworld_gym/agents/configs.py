"""What an agent's training (`adaworld train-agent`), the planning scene search (`adaworld find-scenes`) and the
planning benchmark (`adaworld plan-bench`) are told: the only declaration of their options.

The commands are built from `AgentConfig`, `FindScenesConfig` and `PlanBenchConfig` (`config_cli`), their help from the comments on
the fields, so this module stays free of torch and stable-baselines3: the CLI imports it to list its options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from adaworld_gym.agents import PLAN_METHODS
from adaworld_gym.config_cli import check_at_least
from adaworld_gym.envs.procgen_games import check_distribution_mode, check_game, resolve_actions


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


@dataclass
class FindScenesConfig:
    """Search test levels for planning scenes (start state, goal frame, shortest solution)."""

    out: Path  # folder; each game's scene set goes to OUT/<game>/
    games: list[str] = field(default_factory=lambda: ["heist", "jumper", "maze", "caveflyer"])  # Procgen games
    count: int = 30  # scenes per game
    start_level: int = 0  # first level searched
    num_levels: int = 1000  # levels searched (test levels 0-999 by default)
    max_steps: int = 20  # the goal must be reachable within this many steps
    max_nodes: int = 20_000  # states searched per level at most
    min_steps: int = 2  # skip levels solved in fewer moves (trivial goals)
    distribution_mode: str = "hard"  # Procgen's distribution mode: easy, hard, ...

    def __post_init__(self) -> None:
        for game in self.games:
            check_game(game)
        check_distribution_mode(self.distribution_mode)
        check_at_least(self, {"count": 1, "start_level": 0, "num_levels": 1, "max_steps": 1, "max_nodes": 1,
                              "min_steps": 1})


@dataclass(frozen=True)
class CEMConfig:
    """The cross-entropy method planner's settings (`planning-protocol.md`)."""

    horizon: int = 15  # L
    samples: int = 100  # N sequences per iteration
    top_k: int = 10
    iterations: int = 2
    execute: int = 5  # T actions of the best sequence run in the real game before planning again
    step_limit: int = 20  # real steps per episode
    denoising_steps: int = 3


@dataclass
class PlanBenchConfig:
    """The Procgen planning benchmark: success % per game and method, mean +- standard error over seeds."""

    scenes: Path  # folder of scene sets (adaworld find-scenes --out)
    adaworld: Path | None = None  # pretrained AdaWorld world model folder; none: the shipped one
    agnostic: Path | None = None  # pretrained action-agnostic world model folder (needed for that method)
    methods: list[str] = field(default_factory=lambda: list(PLAN_METHODS))  # planning methods to run
    scenes_per_game: int = 30  # the first scenes of each game's set
    seeds: int = 5  # planner seeds per scene and method
    samples_per_action: int = 100  # few-shot samples per action, from random play on the scene's level
    finetune_steps: int = 500  # fine-tuning steps of each adapted model
    batch_size: int = 32  # fine-tuning batch size
    device: str = "cpu"  # torch device of the world models
    videos: int = 2  # side-by-side mp4s of AdaWorld plans (real | imagined | goal) to write
    out: Path = Path("results/planning")  # plan_bench.json (resumable), plan_bench.md, videos/
    cem: CEMConfig = field(default_factory=CEMConfig, metadata={"cli": False})  # the planner (the protocol's)

    def __post_init__(self) -> None:
        unknown = set(self.methods) - set(PLAN_METHODS)
        if unknown:
            raise ValueError(f"unknown planning methods {sorted(unknown)}; choose from {PLAN_METHODS}")
        if "action-agnostic" in self.methods and self.agnostic is None:
            raise ValueError("the action-agnostic method needs a pretrained action-agnostic world model (--agnostic)")
        check_at_least(self, {"scenes_per_game": 1, "seeds": 1, "samples_per_action": 1, "finetune_steps": 0,
                              "batch_size": 1, "videos": 0})
