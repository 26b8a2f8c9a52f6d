"""Pretrain the diffusion world model on action-free video (`adaworld train-wm`).

Each clip is K memory frames plus the target frame. The frozen frame autoencoder turns frames into latents,
the frozen condition (the latent action model for AdaWorld) labels the transition from the last memory frame to
the target, and the denoiser learns to produce the target latent from the memory and that label. Baselines
(flow, action-agnostic, VQ latent actions) differ only in the condition.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from adaworld_gym.data.branches import branch_loader
from adaworld_gym.data.clips import clip_loader
from adaworld_gym.evaluation.metrics import score_hold
from adaworld_gym.models.change_weights import branch_weights, change_weights
from adaworld_gym.models.conditions import make_condition
from adaworld_gym.models.checkpoint import check_expected, load_checkpoint
from adaworld_gym.models.diffusion.denoiser import Denoiser, DenoiserConfig, preset
from adaworld_gym.models.diffusion.sampler import SamplerConfig
from adaworld_gym.models.frame_autoencoder import FrameAutoencoder
from adaworld_gym.models.frame_autoencoder import preset as autoencoder_preset
from adaworld_gym.models.latent_action import frames_to_float
from adaworld_gym.models.world_model import CHECKPOINT_KIND as WORLD_MODEL_KIND
from adaworld_gym.models.world_model import WorldModel, channels_last, hint_function
from adaworld_gym.training.configs import FOLD_HALVINGS, WmTrainConfig
from adaworld_gym.training.loop import config_record, image_grid, train
from adaworld_gym.weights import pretrained_path


class WmTask:
    name = "train-wm"

    def __init__(self, autoencoder: FrameAutoencoder, condition, memory: int, change_weight: float = 0.0,
                 condition_sample: bool = False):
        # Convolutions in NHWC layout: the frozen encoder's pass over every clip frame is most of a CPU step
        # (a step of the cpu preset at batch 32 took 1.15 s in NCHW, 0.82 s in NHWC on 2 cores).
        self.autoencoder = autoencoder.eval().requires_grad_(False)
        channels_last(autoencoder, condition)
        self.condition, self.memory, self.change_weight = condition, memory, change_weight
        self.label = condition.sample if condition_sample else condition

    def losses(self, model: Denoiser, batch, step):
        frames = batch["frames"]
        k = self.memory
        with torch.no_grad():
            latents = self.autoencoder.to(frames.device).encode(frames)
            self.condition.to(frames.device)
            condition = self.label(frames[:, k - 1], frames[:, k]).to(frames.device)
            weights = None
            if self.change_weight:
                weights = change_weights(frames_to_float(frames[:, k - 1]), frames_to_float(frames[:, k]),
                                         self.change_weight, latents.shape[-1])
        # Memory lengths 1..K: the simulator starts from a single frame after every reset.
        lengths = torch.randint(1, k + 1, (frames.shape[0],), device=frames.device)
        hint = hint_function(self.autoencoder, self.condition, condition) if model.config.hint_resolution else None
        return {"loss": model(latents[:, k], latents[:, :k], lengths, condition, weights, hint)}, condition

    def world_model(self, model: Denoiser) -> WorldModel:
        return WorldModel(self.autoencoder, model, self.condition)

    def diagnostics(self, model, batch, condition) -> dict[str, float]:
        """Next-frame PSNR of a 3-step sample with full memory, and how much a wrong condition costs."""
        frames, k = batch["frames"][:8], self.memory
        world = self.world_model(model)
        state, sampler = world.start(frames[:, :k]), world.sampler(SamplerConfig())
        target = frames_to_float(frames[:, k])
        scores = {}
        for name, cond in (("next_psnr", condition[:8]), ("wrong_condition_psnr", condition[:8].roll(1, dims=0))):
            generator = torch.Generator(frames.device).manual_seed(0)
            frame, _ = world.step(state, cond, sampler, generator)
            scores[name] = -10 * math.log10(max(float((frames_to_float(frame) - target).pow(2).mean()), 1e-10))
        return scores

    def images(self, model, batch, condition) -> dict[str, torch.Tensor]:
        """An open-loop rollout from each clip's first frame, conditioned on the clip's own transitions."""
        frames = batch["frames"][:4]
        world = self.world_model(model)
        imagined = world.rollout(frames[:, :1], world.label(frames))
        real, fake = frames_to_float(frames[:, 1:]), frames_to_float(imagined)
        return {"rollout/real_vs_imagined": torch.cat([real, fake], dim=-1),  # (B, T, 3, H, 2W): a video
                "rollout/real,imagined": image_grid([real[0], fake[0]], count=real.shape[1])}

    def export(self, model, folder: Path, metadata: dict[str, Any]) -> None:
        self.world_model(model).save_pretrained(folder, metadata)


class BranchWmTask(WmTask):
    """WmTask on counterfactual branch groups (`data.branches`): the batch is groups of one state's outcomes,
    each labelled by the condition from the last context frame to that outcome, sharing the group's noise; the
    error that differs between a state's outcomes weighs `contrast` times, the cells where they differ
    1 + `branch_weight`."""

    def __init__(self, autoencoder: FrameAutoencoder, condition, memory: int, contrast: float = 1.0,
                 branch_weight: float = 0.0, condition_sample: bool = False, unroll: int = 0):
        super().__init__(autoencoder, condition, memory, 0.0, condition_sample)
        self.contrast, self.branch_weight, self.unroll = contrast, branch_weight, unroll

    def imagined_context(self, model: Denoiser, context: torch.Tensor, step: int) -> torch.Tensor:
        """(G, K + unroll, 3, H, W) real frames -> (G, K, 3, H, W) whose last d (drawn in 0..unroll) are the
        model's own, each predicted in one sampler pass from the frames before it and the condition of the real
        transition it stands for: the memory a rollout has d steps after its last real frame."""
        depth = int(torch.randint(0, self.unroll + 1, ()))
        if depth == 0:
            return context[:, -self.memory:]
        world = self.world_model(model)
        real = context[:, -self.memory - depth:]
        conditions = world.label(real[:, -depth - 1:])
        imagined = world.rollout(real[:, :-depth], conditions, SamplerConfig(num_steps=1), seed=step)
        return torch.cat([real[:, depth:self.memory], imagined], dim=1)

    def branch_conditions(self, context: torch.Tensor, outcomes: torch.Tensor) -> torch.Tensor:
        """(G, K, 3, H, W), (G, A, 3, H, W) uint8 -> the (G * A, dim) conditions of every outcome."""
        self.condition.to(context.device)
        last = context[:, -1].repeat_interleave(outcomes.shape[1], dim=0)
        return self.label(last, outcomes.flatten(0, 1)).to(context.device)

    def losses(self, model: Denoiser, batch, step):
        context, outcomes = batch["context"], batch["outcomes"]
        with torch.no_grad():
            condition = self.branch_conditions(context, outcomes)  # labelled from the real last frame
        return self.branch_loss(model, context, outcomes, condition, step), condition

    def branch_loss(self, model: Denoiser, context: torch.Tensor, outcomes: torch.Tensor, condition: torch.Tensor,
                    step: int) -> dict[str, torch.Tensor]:
        """The loss of groups of (G, K + unroll, 3, H, W) context frames -> (G, A, 3, H, W) outcomes under their
        (G * A, dim) conditions."""
        groups, moves = outcomes.shape[:2]
        with torch.no_grad():
            if self.unroll:
                context = self.imagined_context(model, context, step)
            memory = self.autoencoder.to(context.device).encode(context).repeat_interleave(moves, dim=0)
            targets = self.autoencoder.encode(outcomes.flatten(0, 1))
            weights = branch_weights(outcomes, self.branch_weight, targets.shape[-1]) if self.branch_weight else None
        # One memory length per group: its outcomes differ only in the condition.
        lengths = torch.randint(1, self.memory + 1, (groups,), device=context.device).repeat_interleave(moves)
        hint = hint_function(self.autoencoder, self.condition, condition) if model.config.hint_resolution else None
        return {"loss": model(targets, memory, lengths, condition, weights, hint, group=moves,
                              contrast=self.contrast)}

    def diagnostics(self, model, batch, condition) -> dict[str, float]:
        """One-step counterfactual accuracy and sensitivity (0-255 units) on 8 of the batch's train states."""
        context, outcomes = batch["context"][:8, -self.memory:], batch["outcomes"][:8]
        groups, moves = outcomes.shape[:2]
        world = self.world_model(model)
        state = world.start(context.repeat_interleave(moves, dim=0))
        generator = torch.Generator(context.device).manual_seed(0)
        frame, _ = world.step(state, condition[:groups * moves], world.sampler(SamplerConfig(num_steps=1)),
                              generator)
        score = score_hold(frame.unflatten(0, (groups, moves)).cpu(), outcomes.cpu(),
                           torch.ones(groups, dtype=torch.bool))
        return {"cf_acc": score.accuracy or 0.0, "sens": score.sensitivity or 0.0}

    def images(self, model, batch, condition) -> dict[str, torch.Tensor]:
        """Rows of one train state each: its real outcomes, then the imagined ones (1 sampler step)."""
        context, outcomes = batch["context"][:4, -self.memory:], batch["outcomes"][:4]
        groups, moves = outcomes.shape[:2]
        world = self.world_model(model)
        generator = torch.Generator(context.device).manual_seed(0)
        frame, _ = world.step(world.start(context.repeat_interleave(moves, dim=0)), condition[:groups * moves],
                              world.sampler(SamplerConfig(num_steps=1)), generator)
        rows = torch.cat([outcomes, frame.unflatten(0, (groups, moves)).cpu()], dim=1)  # (G, 2A, 3, H, W)
        return {"branches/real,imagined": image_grid(list(frames_to_float(rows)), count=2 * moves)}


# The pixel-space denoiser diffuses the change from the last frame in [-1, 1] pixel units: its standard deviation
# on the held-random Procgen stream is about 0.1 (sigma_data). The training noise is placed against it as the
# latent model's is against its unit data (log-normal mean log(sigma_data) + 0.3, sigma_max 10 sigma_data): the
# first sampling step, at sigma_max, must be trained often enough, or its guess misleads the later ones.
# Memory noise is in pixel units too: 0.2 keeps a 3-pixel agent visible, 0.7 (the latent default) does not.
# The condition scales and shifts every UNet block (FiLM, as DIAMOND's AdaGN).
PIXEL_SPACE_DENOISER = dict(predict_change=True, sigma_data=0.1, train_log_sigma_mean=math.log(0.1) + 0.3,
                            sigma_min=0.002, sigma_max=1.0, memory_noise_max=0.2, scale_shift=True)


def init_denoiser(denoiser: Denoiser, folder: Path) -> None:
    """Load the denoiser weights of the exported world model in `folder`; its config must equal `denoiser`'s."""
    saved, state, _ = load_checkpoint(folder, WORLD_MODEL_KIND)
    check_expected(folder, asdict(DenoiserConfig(**saved)), asdict(denoiser.config))
    denoiser.load_state_dict(state)


def frame_autoencoder(config: WmTrainConfig) -> FrameAutoencoder:
    """The trained autoencoder the config names, or the lossless pixel fold for `pixel_space`."""
    if config.pixel_space:
        if config.autoencoder is not None:
            raise ValueError("pixel_space diffuses in pixels: give no --autoencoder with it")
        halvings = FOLD_HALVINGS[config.pixel_fold]  # the fold's grid is resolution / 2**halvings
        return FrameAutoencoder(autoencoder_preset("fold", widths=(16,) * (halvings + 1))).eval()
    if config.autoencoder is None:
        raise ValueError("train-wm needs a trained frame autoencoder (adaworld train-ae) or --pixel-space")
    return FrameAutoencoder.from_pretrained(config.autoencoder)


def train_wm(config: WmTrainConfig, progress: bool = True) -> Path:
    """Train (or resume) into `config.out`; the exported world model lands in `config.out / "model"`."""
    autoencoder = frame_autoencoder(config)
    lam = config.latent_action_model or pretrained_path("lam-cpu")
    condition = make_condition(config.condition, lam if config.condition == "latent_action" else None,
                               resolution=autoencoder.config.resolution)
    model_config = preset(config.preset, **{**(PIXEL_SPACE_DENOISER if config.pixel_space else {}),
                                            "hint_noise": config.hint_noise, **config.denoiser},
                          latent_channels=autoencoder.config.latent_channels,
                          latent_size=autoencoder.config.latent_size, condition_dim=condition.dim,
                          hint_resolution=autoencoder.config.resolution if config.hint else 0)
    if config.branches:
        loader_at = lambda step: branch_loader(config.games, model_config.memory + config.unroll,
                                               config.branch_actions,
                                               config.batch_size, config.num_workers, config.seed + step,
                                               config.policy)
    else:
        loader_at = lambda step: clip_loader(model_config.memory + 1, config.batch_size, config.games,
                                             config.datasets, config.num_workers, config.seed + step, config.policy)
    if config.condition_sample and not (config.condition == "latent_action" and
                                        condition.model.config.quantizer == "gaussian"):
        raise ValueError("--condition-sample draws from a Gaussian latent action model's posterior; the "
                         f"{config.condition!r} condition has none")
    if config.branches:
        task = BranchWmTask(autoencoder, condition, model_config.memory, config.contrast, config.branch_weight,
                            config.condition_sample, config.unroll)
    else:
        task = WmTask(autoencoder, condition, model_config.memory, config.change_weight, config.condition_sample)
    denoiser = Denoiser(model_config)
    if config.init_from is not None:
        init_denoiser(denoiser, config.init_from)
    denoiser = denoiser.to(memory_format=torch.channels_last)
    return train(task, denoiser, loader_at, config, config_record(config, model=model_config),
                 progress)
