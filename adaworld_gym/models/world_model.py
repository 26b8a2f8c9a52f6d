"""The world model: frame autoencoder + diffusion denoiser + what it is conditioned on, loaded and saved as one
folder, with the batched rollout API everything downstream (simulator, transfer, planning) uses.

Frames here are uint8, channels first: (B, T, 3, H, W). Conditions are (B, T, condition_dim) floats: latent
actions for AdaWorld, flow vectors for the flow baseline, (B, T, 0) for the action-agnostic one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from adaworld_gym.models.checkpoint import CheckpointError, check_expected, load_checkpoint, save_checkpoint
from adaworld_gym.models.conditions import Condition, LatentActionCondition, make_condition
from adaworld_gym.models.diffusion.denoiser import Denoiser, DenoiserConfig
from adaworld_gym.models.diffusion.sampler import DiffusionSampler, SamplerConfig
from adaworld_gym.models.frame_autoencoder import FrameAutoencoder
from adaworld_gym.models.latent_action import LatentActionModel

CHECKPOINT_KIND = "world-model"
AUTOENCODER_DIR = "autoencoder"
LATENT_ACTION_DIR = "latent_action_model"


@dataclass
class RolloutState:
    """What the model remembers: the last K latents (oldest first), how many of them are real frames, and the
    last frame in pixels (what the next-frame hint starts from)."""

    memory: torch.Tensor  # (B, K, C, h, w)
    lengths: torch.Tensor  # (B,) int64, 1..K
    frame: torch.Tensor  # (B, 3, H, W) uint8

    def push(self, latent: torch.Tensor, frame: torch.Tensor) -> "RolloutState":
        memory = torch.cat([self.memory[:, 1:], latent[:, None]], dim=1)
        return RolloutState(memory, (self.lengths + 1).clamp(max=self.memory.shape[1]), frame)

    def select(self, index: torch.Tensor) -> "RolloutState":
        return RolloutState(self.memory[index], self.lengths[index], self.frame[index])

    def replace(self, index: torch.Tensor, fresh: "RolloutState") -> None:
        """Overwrite the rollouts at `index` with `fresh` ones, in place (an environment's autoreset)."""
        self.memory[index], self.lengths[index], self.frame[index] = fresh.memory, fresh.lengths, fresh.frame


def to_uint8(frames: torch.Tensor) -> torch.Tensor:
    return (frames * 255).round().clamp(0, 255).to(torch.uint8)


def hint_function(autoencoder: FrameAutoencoder, condition: Condition,
                  conditions: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The next-frame hint as pretraining and fine-tuning draw it (the denoiser chooses the clean or noised last
    memory latent to apply it to): the latent action model's decoder on the autoencoder's view of that latent, as
    in a rollout. Gradients reach `conditions` (an action table learns through the hint), not the autoencoder."""
    def hint(last_latent: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            view = to_uint8(autoencoder.decode(last_latent))
        return condition.predict(view, conditions)
    return hint


def channels_last(autoencoder: FrameAutoencoder, condition: Condition) -> None:
    """Put the frame autoencoder and a latent action condition's model (it labels transitions and may draw the
    next-frame hint) in NHWC layout, where their convolutions run faster on CPU; outputs change by rounding only."""
    autoencoder.to(memory_format=torch.channels_last)
    if isinstance(condition, LatentActionCondition):
        condition.model.to(memory_format=torch.channels_last)


class WorldModel(nn.Module):
    def __init__(self, autoencoder: FrameAutoencoder, denoiser: Denoiser, condition: Condition):
        super().__init__()
        if autoencoder.config.latent_channels != denoiser.config.latent_channels or \
                autoencoder.config.latent_size != denoiser.config.latent_size:
            raise ValueError("the denoiser was made for another frame autoencoder (latent shape differs)")
        if condition.dim != denoiser.config.condition_dim:
            raise ValueError(f"the denoiser takes {denoiser.config.condition_dim}-d conditions, the "
                             f"{condition.kind} condition gives {condition.dim}")
        hint = denoiser.config.hint_resolution
        if hint and (not hasattr(condition, "predict") or hint != autoencoder.config.resolution):
            raise ValueError(f"the denoiser takes a {hint}x{hint} next-frame hint, which needs a latent action "
                             f"condition at that resolution (got {condition.kind!r} at "
                             f"{autoencoder.config.resolution})")
        self.autoencoder, self.denoiser, self.condition = autoencoder, denoiser, condition
        # Convolutions in NHWC layout: about 20% more rollout frames/s on CPU (benchmarks/rollout_speed.py).
        channels_last(autoencoder, condition)
        self.denoiser.to(memory_format=torch.channels_last)
        self.metadata: dict[str, Any] = {}

    @property
    def resolution(self) -> int:
        return self.autoencoder.config.resolution

    @property
    def memory(self) -> int:
        return self.denoiser.config.memory

    @property
    def device(self) -> torch.device:
        return self.autoencoder.device

    def _check_frames(self, frames: torch.Tensor) -> None:
        r = self.resolution
        if frames.ndim != 5 or frames.shape[2:] != (3, r, r) or frames.dtype != torch.uint8:
            raise ValueError(f"expected uint8 frames of shape (B, T, 3, {r}, {r}), got {tuple(frames.shape)} "
                             f"{frames.dtype}")

    @torch.no_grad()
    def label(self, frames: torch.Tensor) -> torch.Tensor:
        """Conditions of a video's transitions: (B, T, 3, H, W) uint8 -> (B, T-1, condition_dim)."""
        self._check_frames(frames)
        b, t = frames.shape[:2]
        out = self.condition(frames[:, :-1].flatten(0, 1), frames[:, 1:].flatten(0, 1))
        return out.to(self.device).reshape(b, t - 1, -1)

    @torch.no_grad()
    def start(self, context: torch.Tensor) -> RolloutState:
        """Memory from 1..K context frames (B, T, 3, H, W) uint8, oldest first (more than K: the last K)."""
        self._check_frames(context)
        context = context[:, -self.memory:].to(self.device)
        b, t = context.shape[:2]
        latents = self.autoencoder.encode(context)
        memory = latents.new_zeros((b, self.memory, *latents.shape[2:]))
        memory[:, self.memory - t:] = latents
        # A copy of the last frame: on the CPU `context` may share the caller's array, which the caller may reuse.
        return RolloutState(memory, torch.full((b,), t, dtype=torch.long, device=self.device), context[:, -1].clone())

    @torch.no_grad()
    def step(self, state: RolloutState, condition: torch.Tensor, sampler: DiffusionSampler,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, RolloutState]:
        """One frame for every rollout in the batch: (B, 3, H, W) uint8 and the state after it."""
        condition = condition.to(self.device).float()
        hint = self.next_frame_hint(state, condition)
        latent = sampler.sample(state.memory, state.lengths, condition, generator, hint)
        frame = to_uint8(self.autoencoder.decode(latent))
        if self.autoencoder.config.fold:  # remember the frame as shown (uint8 levels, in range), as real ones are
            latent = self.autoencoder.encode(frame)
        return frame, state.push(latent, frame)

    def next_frame_hint(self, state: RolloutState, condition: torch.Tensor) -> torch.Tensor | None:
        """The latent action model's own next frame from the state's last frame, for a denoiser that takes one."""
        return self.condition.predict(state.frame, condition) if self.denoiser.config.hint_resolution else None

    def sampler(self, config: SamplerConfig | None = None) -> DiffusionSampler:
        return DiffusionSampler(self.denoiser, config)

    @torch.no_grad()
    def rollout(self, context: torch.Tensor, conditions: torch.Tensor, sampler: SamplerConfig | None = None,
                seed: int | None = 0) -> torch.Tensor:
        """Open-loop imagination: context frames (B, T0, 3, H, W) uint8 and conditions (B, T, condition_dim)
        -> the T imagined frames (B, T, 3, H, W) uint8. A context of batch 1 is shared by all B rollouts (encoded
        once: what a planner branching from one state needs). Same seed, same device: same frames."""
        b = conditions.shape[0]
        if conditions.ndim != 3 or context.shape[0] not in (1, b):
            raise ValueError(f"expected conditions of shape ({context.shape[0]}, T, {self.condition.dim}), "
                             f"got {tuple(conditions.shape)}")
        generator = None
        if seed is not None:
            generator = torch.Generator(self.device).manual_seed(seed)
        state, run, frames = self.start(context), self.sampler(sampler), []
        if context.shape[0] != b:
            state = state.select(torch.zeros(b, dtype=torch.long, device=self.device))
        for t in range(conditions.shape[1]):
            frame, state = self.step(state, conditions[:, t], run, generator)
            frames.append(frame)
        return torch.stack(frames, dim=1)

    def save_pretrained(self, folder: str | Path, metadata: dict[str, Any] | None = None,
                        dtype: torch.dtype | None = torch.float16) -> Path:
        """One folder: config.json + model.safetensors (denoiser), autoencoder/, and latent_action_model/ when
        conditioned on latent actions, so the model cannot be paired with the wrong parts later."""
        folder = Path(folder)
        self.autoencoder.save_pretrained(folder / AUTOENCODER_DIR, self.autoencoder.metadata, dtype)
        if isinstance(self.condition, LatentActionCondition):
            self.condition.model.save_pretrained(folder / LATENT_ACTION_DIR, self.condition.model.metadata, dtype)
        meta = {"resolution": self.resolution, "condition": self.condition.describe(), **(metadata or {})}
        return save_checkpoint(folder, CHECKPOINT_KIND, asdict(self.denoiser.config), self.denoiser.state_dict(),
                               meta, dtype)

    @classmethod
    def from_pretrained(cls, folder: str | Path, *, resolution: int | None = None, condition: str | None = None,
                        device: str | torch.device = "cpu") -> "WorldModel":
        """Load a world model folder; a given resolution or condition kind must match it, or it fails."""
        folder = Path(folder)
        config, state, metadata = load_checkpoint(folder, CHECKPOINT_KIND)
        check_expected(folder, metadata, {"resolution": resolution})
        spec = metadata["condition"]
        if condition is not None and spec["kind"] != condition:
            raise CheckpointError(f"{folder}: conditioned on {spec['kind']!r}, not {condition!r}")
        autoencoder = FrameAutoencoder.from_pretrained(folder / AUTOENCODER_DIR, resolution=metadata["resolution"])
        lam = None
        if spec["kind"] == "latent_action":
            lam = LatentActionModel.from_pretrained(folder / LATENT_ACTION_DIR, resolution=metadata["resolution"],
                                                    latent_dim=spec["dim"], quantizer=spec["quantizer"])
        denoiser = Denoiser(DenoiserConfig(**config))
        denoiser.load_state_dict(state)
        model = cls(autoencoder, denoiser, make_condition(spec["kind"], lam, dim=spec["dim"]))
        model.metadata = metadata
        return model.to(device).eval()
