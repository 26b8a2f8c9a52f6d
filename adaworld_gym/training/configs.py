"""What each trainer is told: one dataclass per trainer, the only declaration of its options.

The `adaworld train-lam / train-ae / train-wm` commands are built from these classes (`config_cli`), their help
from the comments on the fields, so this module stays free of torch: the CLI imports it to list its options.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from adaworld_gym.config_cli import check_at_least
from adaworld_gym.envs.procgen_games import resolve_games


STREAM_POLICIES = ("held", "random")
FOLD_HALVINGS = {4: 2, 2: 1, 1: 0}  # pixel_fold -> halvings of the fold autoencoder


@dataclass
class TrainerConfig:
    """What every trainer is told; each trainer's config extends it (and changes defaults where it needs)."""

    out: Path  # run folder: training state, train_config.json, tb/, videos/, and the exported model/
    preset: str = "cpu"  # model size: tiny (tests), cpu (about an hour on 2 CPU cores), gpu (the paper's)
    steps: int = 6000  # optimizer steps in total (a resumed run continues to this many)
    batch_size: int = 32  # training examples per optimizer step
    lr: float = 3e-4  # peak learning rate (linear warm-up, then cosine decay to a tenth)
    warmup_steps: int = 300  # steps of linear learning-rate warm-up
    weight_decay: float = 0.01  # AdamW's
    ema_decay: float = 0.999  # EMA of the weights, the exported model; 0 disables
    grad_clip: float = 1.0  # gradient norm clip; 0 disables
    # Procgen games of the live stream or of the datasets; "all": the 16.
    games: list[str] = field(default_factory=lambda: ["all"])
    datasets: list[Path] | None = None  # dataset folders; none: stream live from Procgen (train levels, `policy`)
    # Behaviour policy of the live stream: "held" (random actions held 1-16 steps, AdaWorld's directed motions)
    # or "random" (a new uniform action every step, so the next move cannot be read off the memory frames).
    policy: str = "held"
    num_workers: int = 1  # DataLoader workers
    log_every: int = 50  # steps between logged scalars
    image_every: int = 1000  # steps between logged images and rollout videos; 0: none
    save_every: int = 500  # steps between checkpoints of the training state (a run resumes from the last)
    seed: int = 0  # seeds the weights, the stream's levels and actions, and the batches
    # Minutes of training (optimizer steps, not logging): the run ends at `steps` or here, whichever comes first,
    # and the learning-rate decay follows whichever is further along, so a run sized by the clock (a lent GPU of
    # unknown speed) still ends on a decayed rate. None: steps alone.
    time_limit: float | None = None

    def __post_init__(self) -> None:
        self.games = resolve_games(self.games)
        if not self.games:
            raise ValueError("games is empty: name at least one game")
        if self.policy not in STREAM_POLICIES:
            raise ValueError(f"unknown stream policy {self.policy!r}; choose one of {STREAM_POLICIES}")
        check_at_least(self, {**dict.fromkeys(("steps", "batch_size", "log_every", "save_every"), 1),
                              **dict.fromkeys(("lr", "warmup_steps", "weight_decay", "grad_clip", "num_workers",
                                               "image_every"), 0)})
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.time_limit is not None and self.time_limit <= 0:
            raise ValueError(f"time_limit must be positive minutes, got {self.time_limit}")

    def data_description(self) -> str | list[str]:
        if self.datasets:
            return [str(d) for d in self.datasets]
        return "live Procgen stream, train levels" + ("" if self.policy == "held" else f", {self.policy} policy")


@dataclass
class BranchTrainerConfig(TrainerConfig):
    """A trainer that can also learn from counterfactual branches (`data.branches`) instead of plain clips."""

    # Train on counterfactual branches of the live stream: from saved states, every action of `branch_actions`
    # played once. Only the pretraining games' own action spaces are used (to branch), never their labels.
    branches: bool = False
    branch_actions: str = "moves"  # with branches: the action subset to branch on
    # With branches: the pixels (grid cells) where a state's outcomes differ, which the action and not the game
    # decided, weigh 1 + this much in the loss.
    branch_weight: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.branches and self.datasets:
            raise ValueError("--branches plays the live games to branch them; it takes no --datasets")
        if self.branch_weight and not self.branches:
            raise ValueError("--branch-weight acts on counterfactual branches: give --branches")
        check_at_least(self, {"branch_weight": 0})


@dataclass
class LamTrainConfig(BranchTrainerConfig):
    """The latent action autoencoder's training (`adaworld train-lam`)."""

    steps: int = 4000
    ema_decay: float = 0.995
    # Steps with no KL term: a plain autoencoder, since the encoder must become informative before the
    # bottleneck can squeeze it, or the latent collapses to the prior.
    kl_free_steps: int = 2000
    kl_warmup_steps: int = 1000  # steps over which the KL weight then rises linearly to beta

    # Model options: where given, they replace the preset's value.

    beta: float | None = None  # KL weight (the paper's: 2e-4)
    quantizer: str | None = None  # gaussian (AdaWorld) or vq (the Genie-style baseline)
    # Extra loss weight of the pixels that change between the two frames (cpu preset: 300, others 0).
    change_weight: float | None = None
    decoder: str | None = None  # transformer (the paper) or unet (cpu preset)
    # transformer (the paper) or cnn (cpu preset: full-resolution convolutions, which find small sprites).
    encoder: str | None = None
    kl_floor: float | None = None  # free bits: nats per pair the KL term lets pass (cpu preset: 3, others 0)
    # The UNet decoder works on FOLDxFOLD pixel blocks, about FOLD^2 times cheaper (presets: 1); what a world
    # model's --hint costs per step.
    unet_fold: int | None = None
    # Train only the decoder of this trained model (its encoder, so what every latent action means, stays).
    # With `change_weight` 0 the decoder learns the best plain prediction of f_t+1 instead of the change-weighted
    # one that taught the encoder the moves: the next-frame hint of a world model (`train-wm --hint`). A new
    # `unet_fold` gives a fresh, cheaper decoder (the hint's cost per world model step).
    decoder_of: Path | None = None
    # Weight of the action head's cross-entropy on the clips' true actions (0: label-free, the paper). The head
    # is added to a model without one (`action_classes` = the games' action count).
    label_weight: float = 0.0
    # Continue training this trained model (all its weights; its config, plus an action head for label_weight).
    finetune_of: Path | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_at_least(self, {"label_weight": 0})



@dataclass
class AeTrainConfig(TrainerConfig):
    """The frame autoencoder's training (`adaworld train-ae`)."""

    steps: int = 3000  # batch_size counts frame pairs: 64 frames per step
    lr: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.0
    # 0.999 lagged ~4 dB behind the raw weights after 3000 steps (test-level PSNR 19.2 vs 23.0 dB).
    ema_decay: float = 0.99
    image_every: int = 500


@dataclass
class WmTrainConfig(BranchTrainerConfig):
    """The diffusion world model's pretraining on action-free video (`adaworld train-wm`)."""

    autoencoder: Path | None = None  # a trained frame autoencoder (adaworld train-ae); not with pixel_space
    # Diffuse in pixels (folded onto a grid, no autoencoder) and predict the change from the last frame.
    pixel_space: bool = False
    # latent_action (AdaWorld; the discrete baseline with a VQ latent action model), flow, or none
    # (action-agnostic).
    condition: str = "latent_action"
    latent_action_model: Path | None = None  # none: the shipped lam-cpu
    # JSON object of DenoiserConfig fields over the preset's (and, with pixel_space, over PIXEL_SPACE_DENOISER's),
    # e.g. '{"widths": [16, 32, 64, 128], "warp": true}'.
    denoiser: dict[str, Any] = field(default_factory=dict)
    pixel_fold: int = 4  # pixel_space: pixels per side of a grid cell (4: a 16x16 grid at 64x64; 2: 32x32; 1)
    hint: bool = False  # give the denoiser the latent action model's own next frame (latent_action only)
    hint_noise: bool = False  # draw that hint from the noised last memory frame (DenoiserConfig.hint_noise)
    # Condition on a draw from the latent action model's posterior instead of its mean (Gaussian latent action
    # models only): the model learns how far to trust a latent the encoder itself is unsure of.
    condition_sample: bool = False
    # A 200-step horizon: 0.999 lagged far behind a still-improving model in runs of a few thousand steps.
    ema_decay: float = 0.995
    # Latent cells whose pixels changed between the last memory frame and the target weigh 1 + this much in the
    # diffusion loss (0: the paper's plain loss); the world model's counterpart of the LAM's change weight.
    change_weight: float = 0.0
    # With branches: the part of the error that differs between a state's outcomes weighs this many times
    # (RESULTS.md: Controllability).
    contrast: float = 1.0
    # With branches: the last d context frames (d uniform in 0..unroll per batch) are the model's own one-pass
    # predictions from the frames before them, so it learns to continue from the memory it makes in a rollout.
    unroll: int = 0
    # Start from the denoiser of this exported world model (its denoiser config must be this run's), e.g. fp16
    # weights committed by an earlier session; the optimizer and schedule start afresh. A run folder with a
    # training state resumes from that instead.
    init_from: Path | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        # Imported here, not above: the denoiser module brings torch and diffusers, which the CLI must not need
        # to list its options.
        from adaworld_gym.models.diffusion.denoiser import DenoiserConfig

        if self.pixel_fold not in FOLD_HALVINGS:
            raise ValueError(f"pixel_fold must be one of {sorted(FOLD_HALVINGS)}, got {self.pixel_fold}")
        unknown = set(self.denoiser) - {f.name for f in fields(DenoiserConfig)}
        if unknown:
            raise ValueError(f"unknown denoiser option(s) {sorted(unknown)}; see DenoiserConfig")
        derived = set(self.denoiser) & {"latent_channels", "latent_size", "condition_dim", "hint_resolution",
                                        "hint_noise"}
        if derived:
            raise ValueError(f"{sorted(derived)} follow from the autoencoder, the condition and --hint / "
                             "--hint-noise; do not set them in --denoiser")
        if not self.branches and (self.contrast != 1.0 or self.unroll):
            raise ValueError("--contrast and --unroll act on counterfactual branches: give --branches")
        check_at_least(self, dict.fromkeys(("unroll", "contrast", "change_weight"), 0))
        if self.branches and self.change_weight:
            raise ValueError("with --branches, weigh the cells where the outcomes differ with --branch-weight, "
                             "not --change-weight")
