"""Pretrain the diffusion world model on action-free video (`adaworld train-wm`).

Each clip is K memory frames plus the target frame. The frozen frame autoencoder turns frames into latents,
the frozen condition (the latent action model for AdaWorld) labels the transition from the last memory frame to
the target, and the denoiser learns to produce the target latent from the memory and that label. Baselines
(flow, action-agnostic, VQ latent actions) differ only in the condition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from adaworld_gym.models.change_weights import change_weights
from adaworld_gym.models.conditions import make_condition
from adaworld_gym.models.diffusion.denoiser import Denoiser, preset
from adaworld_gym.models.diffusion.sampler import SamplerConfig
from adaworld_gym.models.frame_autoencoder import FrameAutoencoder
from adaworld_gym.models.frame_autoencoder import preset as autoencoder_preset
from adaworld_gym.models.latent_action import frames_to_float
from adaworld_gym.models.world_model import WorldModel, channels_last, hint_function
from adaworld_gym.training.loop import TrainerConfig, config_record, image_grid, train
from adaworld_gym.training.train_lam import clip_loader
from adaworld_gym.weights import pretrained_path


@dataclass
class WmTrainConfig(TrainerConfig):
    autoencoder: Path | None = None  # a trained frame autoencoder (adaworld train-ae); or pixel_space
    # Diffuse in pixels (folded 4x4 onto a 16x16 grid, no autoencoder) and predict the change from the last frame.
    pixel_space: bool = False
    condition: str = "latent_action"  # latent_action (AdaWorld; the VQ baseline with a VQ model), flow, none
    latent_action_model: Path | None = None  # None: the shipped lam-cpu
    # Denoiser options over the preset (None: the preset's); see DenoiserConfig.
    scale_shift: bool | None = None
    condition_channels: int | None = None
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


# The pixel-space denoiser diffuses the change from the last frame in [-1, 1] pixel units: its standard deviation
# on the held-random Procgen stream is about 0.1 (sigma_data). The training noise is placed against it as the
# latent model's is against its unit data (log-normal mean log(sigma_data) + 0.3, sigma_max 10 sigma_data): the
# first sampling step, at sigma_max, must be trained often enough, or its guess misleads the later ones.
# Memory noise is in pixel units too: 0.2 keeps a 3-pixel agent visible, 0.7 (the latent default) does not.
# The condition scales and shifts every UNet block (FiLM, as DIAMOND's AdaGN).
PIXEL_SPACE_DENOISER = dict(predict_change=True, sigma_data=0.1, train_log_sigma_mean=math.log(0.1) + 0.3,
                            sigma_min=0.002, sigma_max=1.0, memory_noise_max=0.2, scale_shift=True)


def frame_autoencoder(config: WmTrainConfig) -> FrameAutoencoder:
    """The trained autoencoder the config names, or the lossless pixel fold for `pixel_space`."""
    if config.pixel_space:
        if config.autoencoder is not None:
            raise ValueError("pixel_space diffuses in pixels: give no --autoencoder with it")
        return FrameAutoencoder(autoencoder_preset("fold")).eval()
    if config.autoencoder is None:
        raise ValueError("train-wm needs a trained frame autoencoder (adaworld train-ae) or --pixel-space")
    return FrameAutoencoder.from_pretrained(config.autoencoder)


def train_wm(config: WmTrainConfig, progress: bool = True) -> Path:
    """Train (or resume) into `config.out`; the exported world model lands in `config.out / "model"`."""
    autoencoder = frame_autoencoder(config)
    lam = config.latent_action_model or pretrained_path("lam-cpu")
    condition = make_condition(config.condition, lam if config.condition == "latent_action" else None,
                               resolution=autoencoder.config.resolution)
    asked = dict(latent_channels=autoencoder.config.latent_channels, latent_size=autoencoder.config.latent_size,
                 condition_dim=condition.dim, scale_shift=config.scale_shift,
                 condition_channels=config.condition_channels,
                 hint_resolution=autoencoder.config.resolution if config.hint else 0, hint_noise=config.hint_noise)
    model_config = preset(config.preset, **{**(PIXEL_SPACE_DENOISER if config.pixel_space else {}),
                                            **{k: v for k, v in asked.items() if v is not None}})
    loader_at = lambda step: clip_loader(model_config.memory + 1, config.batch_size, config.games, config.datasets,
                                         config.num_workers, config.seed + step, config.policy)
    if config.condition_sample and not (config.condition == "latent_action" and
                                        condition.model.config.quantizer == "gaussian"):
        raise ValueError("--condition-sample draws from a Gaussian latent action model's posterior; the "
                         f"{config.condition!r} condition has none")
    task = WmTask(autoencoder, condition, model_config.memory, config.change_weight, config.condition_sample)
    denoiser = Denoiser(model_config).to(memory_format=torch.channels_last)
    return train(task, denoiser, loader_at, config, config_record(config, model=model_config),
                 progress)
