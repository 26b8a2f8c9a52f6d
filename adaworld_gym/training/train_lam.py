"""Train the latent action autoencoder on frame pairs (`adaworld train-lam`).

Action labels reach the model only with `label_weight` > 0 (the semi-supervised variant, labels of the training
games' own video); otherwise only `batch["frames"]` is used, as in the paper.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from adaworld_gym.data.branches import branch_loader
from adaworld_gym.data.clips import clip_loader
from adaworld_gym.data.episodes import EpisodeStore
from adaworld_gym.envs.procgen_games import ACTION_SUBSETS, PROCGEN_ACTION_NAMES
from adaworld_gym.evaluation.metrics import score_hold
from adaworld_gym.models.change_weights import branch_weights
from adaworld_gym.models.latent_action import LatentActionModel, frames_to_float, preset
from adaworld_gym.training.configs import LamTrainConfig
from adaworld_gym.training.loop import config_record, image_grid, train


# The model options a run may set over its preset (None: the preset's value), and those of them that only shape
# the decoder, so `decoder_of` may set them.
MODEL_OPTIONS = ("beta", "quantizer", "change_weight", "decoder", "encoder", "kl_floor",
                 "unet_fold")
DECODER_OPTIONS = ("change_weight", "unet_fold")


def model_options(config: LamTrainConfig) -> dict[str, Any]:
    """Those of MODEL_OPTIONS the run sets."""
    return {name: getattr(config, name) for name in MODEL_OPTIONS if getattr(config, name) is not None}


NUM_PROCGEN_ACTIONS = len(PROCGEN_ACTION_NAMES)


def kl_scale(step: int, config: LamTrainConfig) -> float:
    return min(1.0, max(0.0, (step - config.kl_free_steps) / max(1, config.kl_warmup_steps)))


class LamTask:
    name = "train-lam"

    def __init__(self, config: LamTrainConfig):
        self.config = config

    def losses(self, model, batch, step):
        scale = kl_scale(step, self.config)
        if self.config.branches:
            outcomes = batch["outcomes"]
            weights = branch_weights(outcomes, self.config.branch_weight) if self.config.branch_weight else None
            # A branch's label is the Procgen combo it played: its subset's, group by group.
            combos = torch.tensor(ACTION_SUBSETS[self.config.branch_actions], device=outcomes.device)
            output = model(pairs_of(batch), kl_scale=scale, encoder_frozen=self.config.decoder_of is not None,
                           actions=combos.repeat(outcomes.shape[0]), label_weight=self.config.label_weight,
                           weights=weights)
        else:
            output = model(pairs_of(batch), kl_scale=scale, encoder_frozen=self.config.decoder_of is not None,
                           actions=batch["actions"][:, 0], label_weight=self.config.label_weight)
        return {**output.losses, "kl_scale": torch.tensor(scale)}, output

    def diagnostics(self, model, batch, output) -> dict[str, float]:
        # How much worse the prediction gets with another pair's latent: controllability while training.
        frames = frames_to_float(pairs_of(batch))
        mse = float(output.losses["mse"])
        wrong = float((model.decode(frames[:, 0], output.latent.roll(1, dims=0)) - frames[:, 1]).pow(2).mean())
        scores = {"psnr": -10 * math.log10(max(mse, 1e-10)),
                  "delta_psnr": 10 * math.log10(max(wrong, 1e-10) / max(mse, 1e-10))}
        if self.config.branches:  # one-step counterfactual accuracy on the batch's train states
            outcomes = batch["outcomes"]
            imagined = (output.prediction * 255).round().to(torch.uint8).unflatten(0, outcomes.shape[:2])
            score = score_hold(imagined.cpu(), outcomes.cpu(),
                               torch.ones(outcomes.shape[0], dtype=torch.bool))
            scores.update(cf_acc=score.accuracy or 0.0, sens=score.sensitivity or 0.0)
        return scores

    def images(self, model, batch, output) -> dict[str, torch.Tensor]:
        frames = frames_to_float(pairs_of(batch))
        diff = (output.prediction - frames[:, 1]).abs() * 4
        return {"pairs/f_t,f_t+1,prediction,4x|error|": image_grid([frames[:, 0], frames[:, 1], output.prediction,
                                                                      diff])}

    def export(self, model, folder: Path, metadata: dict[str, Any]) -> None:
        if self.config.decoder_of is not None:
            metadata = {**metadata, "decoder_of": {"model": str(self.config.decoder_of),
                                                   "trained_steps": model.metadata.get("trained_steps")}}
        if self.config.finetune_of is not None:
            metadata = {**metadata, "finetune_of": str(self.config.finetune_of),
                        "label_weight": self.config.label_weight}
        model.save_pretrained(folder, metadata)


def pairs_of(batch: dict) -> torch.Tensor:
    """The (B, 2, 3, H, W) uint8 frame pairs of a batch of clips, or of branch groups (each outcome after the
    group's last context frame, group by group)."""
    if "outcomes" not in batch:
        return batch["frames"][:, :2]
    outcomes = batch["outcomes"]
    last = batch["context"][:, -1].repeat_interleave(outcomes.shape[1], dim=0)
    return torch.stack([last, outcomes.flatten(0, 1)], dim=1)


def train_lam(config: LamTrainConfig, progress: bool = True) -> Path:
    """Train (or resume) into `config.out`; the exported model lands in `config.out / "model"`."""
    if config.decoder_of is not None and config.finetune_of is not None:
        raise ValueError("give either --decoder-of or --finetune-of, not both")
    if config.label_weight:
        check_labels(config)
    if config.decoder_of is not None:
        model = decoder_to_finetune(config)
    elif config.finetune_of is not None:
        model = model_to_finetune(config)
    else:
        labels = {"action_classes": NUM_PROCGEN_ACTIONS} if config.label_weight else {}
        model = LatentActionModel(preset(config.preset, **model_options(config), **labels))
    # A resumed run streams new levels, not the same ones again.
    if config.branches:
        loader_at = lambda step: branch_loader(config.games, 1, config.branch_actions, config.batch_size,
                                               config.num_workers, config.seed + step, config.policy)
    else:
        loader_at = lambda step: clip_loader(2, config.batch_size, config.games, config.datasets,
                                             config.num_workers, config.seed + step, config.policy)
    return train(LamTask(config), model, loader_at, config, config_record(config, model=model.config), progress)


def check_labels(config: LamTrainConfig) -> None:
    """Labels are indices into Procgen's 15 combos: the live stream's, or datasets recorded with all 15."""
    if config.decoder_of is not None:
        raise ValueError("--label-weight trains the encoder; --decoder-of freezes it")
    for folder in config.datasets or []:
        counts = EpisodeStore(folder).info.num_actions
        if any(n != NUM_PROCGEN_ACTIONS for n in counts.values()):
            raise ValueError(f"{folder}: --label-weight needs actions from Procgen's {NUM_PROCGEN_ACTIONS} combos "
                             f"('--actions full'); this dataset has {counts}")


def model_to_finetune(config: LamTrainConfig) -> LatentActionModel:
    """The trained model at `config.finetune_of`, every weight trainable, with a fresh action head if the run
    asks for labels and the model has none. The KL schedule is the run's (`--kl-free-steps 0 --kl-warmup-steps 0`
    keeps it at full strength from the first step: the model's latent is already informative)."""
    options = model_options(config)
    if options:
        raise ValueError(f"--finetune-of keeps the model's config; got {sorted(options)}")
    source = LatentActionModel.from_pretrained(config.finetune_of)
    classes = source.config.action_classes or (NUM_PROCGEN_ACTIONS if config.label_weight else 0)
    model = LatentActionModel(replace(source.config, action_classes=classes)).train()
    missing, unexpected = model.load_state_dict(source.state_dict(), strict=False)
    if unexpected or any(not name.startswith("action_head.") for name in missing):
        raise ValueError(f"{config.finetune_of}: weights do not fit its own config ({missing}, {unexpected})")
    model.metadata = source.metadata
    return model


def decoder_to_finetune(config: LamTrainConfig) -> LatentActionModel:
    """The trained model at `config.decoder_of`, its own config but for DECODER_OPTIONS, with all but the decoder
    frozen. The decoder keeps its weights if its shape is unchanged, else it starts afresh (as "f_t+1 = f_t")."""
    options = model_options(config)
    fixed = sorted(set(options) - set(DECODER_OPTIONS))
    if fixed:
        raise ValueError(f"--decoder-of keeps the model's encoder; only {', '.join(DECODER_OPTIONS)} can be set, "
                         f"got {fixed}")
    source = LatentActionModel.from_pretrained(config.decoder_of)
    model = LatentActionModel(replace(source.config, **options)).train()
    weights = source.state_dict()
    if model.config.unet_fold != source.config.unet_fold:  # the fresh decoder's own weights, the source's encoder
        decoder = tuple(f"{name}." for name, child in model.named_children()
                        if any(child is module for module in model.decoder_modules()))
        weights.update((name, value) for name, value in model.state_dict().items() if name.startswith(decoder))
    model.load_state_dict(weights)
    model.metadata = source.metadata
    model.requires_grad_(False)
    for module in model.decoder_modules():
        module.requires_grad_(True)
    return model
