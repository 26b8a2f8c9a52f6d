"""Train the frame autoencoder whose latent space the world model diffuses in (`adaworld train-ae`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from adaworld_gym.models.frame_autoencoder import FrameAutoencoder, preset
from adaworld_gym.models.latent_action import frames_to_float
from adaworld_gym.data.clips import clip_loader
from adaworld_gym.training.configs import AeTrainConfig
from adaworld_gym.training.loop import config_record, image_grid, train


class AeTask:
    name = "train-ae"

    def losses(self, model, batch, step):
        reconstruction, losses = model(batch["frames"])
        return losses, reconstruction

    def diagnostics(self, model, batch, output) -> dict[str, float]:
        mse = float((output - frames_to_float(batch["frames"]).flatten(0, 1)).pow(2).mean())
        return {"psnr": -10 * math.log10(max(mse, 1e-10))}

    def images(self, model, batch, output) -> dict[str, torch.Tensor]:
        frames = frames_to_float(batch["frames"]).flatten(0, 1)
        return {"frames/real,reconstruction,4x|error|": image_grid([frames, output, (output - frames).abs() * 4])}

    def export(self, model, folder: Path, metadata: dict[str, Any]) -> None:
        model.save_pretrained(folder, metadata)


def train_ae(config: AeTrainConfig, progress: bool = True) -> Path:
    """Train (or resume) into `config.out`; the exported autoencoder lands in `config.out / "model"`."""
    model_config = preset(config.preset)
    if model_config.fold:
        raise ValueError("the 'fold' autoencoder is lossless and has nothing to train (train-wm --pixel-space uses it)")
    loader_at = lambda step: clip_loader(2, config.batch_size, config.games, config.datasets, config.num_workers,
                                         config.seed + step, config.policy)
    return train(AeTask(), FrameAutoencoder(model_config), loader_at, config, config_record(config, model=model_config),
                 progress)
