"""EDM denoiser of the next frame's latent, given a memory of past latents and a condition (AdaWorld section 2).

The network is a diffusers `UNet2DModel`. Its input is the noisy next latent (scaled by EDM's c_in) stacked
on the channels of the K memory latents; everything else it is told goes into the timestep embedding through
`class_embed_type="identity"`: the condition (a latent action, flow, or nothing), whether the condition was
dropped (classifier-free guidance), how many memory frames are real, and how much noise was added to them.
Two options make the condition stronger than the paper's additive embedding (a per-channel bias in every block):
`scale_shift` lets the embedding scale and shift every block's features (FiLM), and `condition_channels` also
tiles a projection of it over the input, so the first convolution sees the action next to each position's memory.
A third, `hint_resolution`, stacks a pixel-space guess of the next frame on the input (folded onto the latent
grid, 4x4 pixels per cell at 64x64): for AdaWorld the latent action model's own decoder applied to the last frame
and the latent action, which draws the move where it happens (README: Results).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from diffusers import UNet2DModel
from torch import nn

from adaworld_gym.models.presets import choose_preset


@dataclass(frozen=True)
class DenoiserConfig:
    latent_channels: int = 8
    latent_size: int = 16
    memory: int = 6  # K past frames
    condition_dim: int = 32  # 0: action-agnostic
    widths: tuple[int, ...] = (32, 64, 128)
    layers_per_block: int = 1
    norm_groups: int = 8
    # EDM (Karras et al. 2022). Latents are normalised to unit variance, hence sigma_data = 1; the training
    # noise distribution is EDM's log-normal shifted by log 2 for that (DIAMOND's -0.4 at sigma_data 0.5).
    sigma_data: float = 1.0
    sigma_min: float = 0.004
    sigma_max: float = 10.0
    rho: float = 7.0
    train_log_sigma_mean: float = 0.3
    train_log_sigma_std: float = 1.2
    memory_noise_max: float = 0.7  # memory noise augmentation, level ~ U(0, max), told to the model
    condition_dropout: float = 0.1
    # How strongly the condition reaches the UNet (see the module docstring); the defaults are the paper's.
    scale_shift: bool = False
    condition_channels: int = 0
    hint_resolution: int = 0  # side of the next-frame hint in pixels (0: no hint)
    # Training (and fine-tuning) draws the hint from the last memory latent with its augmentation noise, not
    # from the clean one: a clean hint teaches the model to trust it over a noised memory (`train-wm --hint-noise`).
    hint_noise: bool = False
    # Diffuse the change from the last memory latent instead of the next latent itself: what does not move is
    # a zero change, kept exactly, and the whole loss lies on what the action and the game changed.
    predict_change: bool = False
    # With predict_change on a pixel fold (latent = f x f pixel blocks on the channels, f = sqrt(C / 3)): the
    # network also outputs a flow field (2 channels per cell, in pixels), the last frame is warped by it at full
    # resolution, and the diffused change is what the warp leaves unexplained. A camera that scrolls by a
    # fraction of a pixel, or a sprite that moves, is a small flow rather than a speckle of pixel changes.
    warp: bool = False
    # > 0: the UNet outputs that many candidate outputs per position and the condition mixes them linearly, so
    # "where is the agent" (the network) and "which way does this action move it" (the mix) multiply.
    condition_bases: int = 0
    # False (with condition_bases): the UNet never sees the condition, only the mix does, so a branch group's
    # members share one UNet pass in training (RESULTS.md: Controllability, the fit check of the mix).
    condition_backbone: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(self.widths))
        if self.warp and not self.predict_change:
            raise ValueError("warp moves the last frame's pixels: it needs predict_change")
        if self.warp and self.fold_factor ** 2 * 3 != self.latent_channels:
            raise ValueError(f"warp needs a pixel-fold latent (3 f^2 channels), got {self.latent_channels}")
        if self.hint_resolution % self.latent_size:
            raise ValueError(f"hint_resolution {self.hint_resolution} is not a multiple of latent_size "
                             f"{self.latent_size}")
        blind = not self.condition_backbone
        if blind and (not self.condition_bases or self.condition_channels or self.hint_resolution):
            raise ValueError("a backbone that does not see the condition needs condition_bases and no "
                             "condition_channels or hint")
        if self.hint_noise and not self.hint_resolution:
            raise ValueError("hint_noise needs a hint (hint_resolution > 0)")

    @property
    def fold_factor(self) -> int:
        return round((self.latent_channels / 3) ** 0.5)

    @property
    def hint_channels(self) -> int:
        return 3 * (self.hint_resolution // self.latent_size) ** 2


PRESETS: dict[str, DenoiserConfig] = {
    "tiny": DenoiserConfig(widths=(16, 32), norm_groups=4),
    "cpu": DenoiserConfig(),
    "gpu": DenoiserConfig(widths=(64, 128, 256), layers_per_block=2),
}


def preset(name: str, **overrides: Any) -> DenoiserConfig:
    return choose_preset(PRESETS, name, overrides)


def memory_mask(lengths: torch.Tensor, memory: int) -> torch.Tensor:
    """(B,) numbers of real memory frames -> (B, memory) bool; memory is oldest first, so real ones are last."""
    return torch.arange(memory, device=lengths.device)[None] >= memory - lengths[:, None]


class Denoiser(nn.Module):
    def __init__(self, config: DenoiserConfig):
        super().__init__()
        self.config = c = config
        depth = len(c.widths)
        self.unet = UNet2DModel(
            sample_size=c.latent_size,
            in_channels=c.latent_channels * (c.memory + 1) + c.condition_channels + c.hint_channels,
            out_channels=(c.latent_channels + 2 * c.warp) * max(1, c.condition_bases),  # warp: + the flow (x, y)
            block_out_channels=c.widths, layers_per_block=c.layers_per_block,
            down_block_types=("DownBlock2D",) * depth, up_block_types=("UpBlock2D",) * depth,
            norm_num_groups=c.norm_groups, attention_head_dim=c.widths[-1] // 4, add_attention=True,
            class_embed_type="identity", resnet_time_scale_shift="scale_shift" if c.scale_shift else "default")
        embed_dim = c.widths[0] * 4  # UNet2DModel's timestep embedding size
        # condition, dropped flag, real memory fraction, memory noise level
        self.condition_embedding = nn.Sequential(nn.Linear(c.condition_dim + 3, embed_dim), nn.SiLU(),
                                                 nn.Linear(embed_dim, embed_dim))
        self.condition_planes = nn.Linear(embed_dim, c.condition_channels) if c.condition_channels else None
        self.condition_mix = nn.Linear(embed_dim, c.condition_bases) if c.condition_bases else None

    def preconditioning(self, sigma: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """EDM's c_in, c_skip, c_out and c_noise for per-sample noise levels `sigma` of shape (B,)."""
        sd = self.config.sigma_data
        s = sigma.view(-1, 1, 1, 1)
        c_in = 1 / (s ** 2 + sd ** 2).sqrt()
        c_skip = sd ** 2 / (s ** 2 + sd ** 2)
        c_out = s * sd / (s ** 2 + sd ** 2).sqrt()
        return c_in, c_skip, c_out, sigma.log() / 4

    def network(self, scaled_noisy: torch.Tensor, c_noise: torch.Tensor, memory: torch.Tensor,
                memory_lengths: torch.Tensor, memory_noise: torch.Tensor, condition: torch.Tensor,
                dropped: torch.Tensor, hint: torch.Tensor | None = None, group: int = 1) -> torch.Tensor:
        """The raw UNet output F. memory (B, K, C, h, w) already masked and noised as it should be seen.
        `group` > 1: groups of that many consecutive samples share every input but the condition, so a backbone
        that does not see the condition runs once per group."""
        c = self.config
        info = torch.cat([condition * (~dropped)[:, None], dropped[:, None].float(),
                          (memory_lengths.float() / c.memory)[:, None], memory_noise[:, None]], dim=1)
        embedding = self.condition_embedding(info)
        inputs = [scaled_noisy, memory.flatten(1, 2)]
        if self.condition_planes is not None:
            size = scaled_noisy.shape[-2:]
            inputs.append(self.condition_planes(embedding)[:, :, None, None].expand(-1, -1, *size))
        if c.hint_resolution:  # the hint carries the action too, so it is dropped with the condition
            kept = (~dropped).float().view(-1, 1, 1, 1)
            inputs.append(F.pixel_unshuffle((hint * 2 - 1) * kept, c.hint_resolution // c.latent_size))
        # Timesteps 1000 * c_noise: the sinusoidal embedding resolves a range of about a thousand, not of one.
        if c.condition_backbone:
            raw = self.unet(torch.cat(inputs, dim=1), 1000 * c_noise, class_labels=embedding).sample
        else:
            backbone = self.condition_embedding(torch.cat([torch.zeros_like(condition), info[:, c.condition_dim:]], 1))
            raw = self.unet(torch.cat(inputs, dim=1)[::group], 1000 * c_noise[::group],
                            class_labels=backbone[::group]).sample.repeat_interleave(group, dim=0)
        if self.condition_mix is None:
            return raw
        mix = self.condition_mix(embedding)  # (B, bases)
        return torch.einsum("bk,bkchw->bchw", mix, raw.unflatten(1, (c.condition_bases, -1)))

    def denoise(self, noisy: torch.Tensor, sigma: torch.Tensor, memory: torch.Tensor, memory_lengths: torch.Tensor,
                memory_noise: torch.Tensor, condition: torch.Tensor, dropped: torch.Tensor,
                hint: torch.Tensor | None = None, last: torch.Tensor | None = None) -> torch.Tensor:
        """EDM's D(x; sigma): the denoised next latent (its change from `last`, the clean last memory latent,
        when the config says `predict_change`; `warp` needs `last`)."""
        c_in, c_skip, c_out, c_noise = self.preconditioning(sigma)
        raw = self.network(c_in * noisy, c_noise, memory, memory_lengths, memory_noise, condition, dropped, hint)
        return self.output(raw, noisy, c_skip, c_out, last)

    def output(self, raw: torch.Tensor, noisy: torch.Tensor, c_skip: torch.Tensor, c_out: torch.Tensor,
               last: torch.Tensor | None) -> torch.Tensor:
        """EDM's D from the network's raw output: c_skip x + c_out F, plus, with `warp`, the change its flow
        makes to `last`."""
        if not self.config.warp:
            return c_skip * noisy + c_out * raw
        if last is None:
            raise ValueError("a warping denoiser needs the clean last memory latent")
        return c_skip * noisy + c_out * raw[:, :-2] + self.warp_change(raw[:, -2:], last)

    def warp_change(self, flow: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        """Flow (B, 2, h, w) in pixels (x, y: where each pixel comes from, relative to itself), last latent
        (B, C, h, w) of a pixel fold -> the change from `last` to `last` warped by the flow (bilinear, border)."""
        f = self.config.fold_factor
        frame = F.pixel_shuffle(last, f)
        b, _, height, width = frame.shape
        flow = F.interpolate(flow, size=(height, width), mode="bilinear", align_corners=False)
        ys = torch.linspace(-1 + 1 / height, 1 - 1 / height, height, device=flow.device, dtype=flow.dtype)
        xs = torch.linspace(-1 + 1 / width, 1 - 1 / width, width, device=flow.device, dtype=flow.dtype)
        grid = torch.stack([xs[None, :].expand(height, -1), ys[:, None].expand(-1, width)])  # (2, H, W): x, y
        scale = torch.tensor([2 / width, 2 / height], device=flow.device, dtype=flow.dtype).view(1, 2, 1, 1)
        warped = F.grid_sample(frame, (grid + flow * scale).permute(0, 2, 3, 1), mode="bilinear",
                               padding_mode="border", align_corners=False)
        return F.pixel_unshuffle(warped, f) - last

    def prepare_memory(self, memory: torch.Tensor, memory_lengths: torch.Tensor,
                       memory_noise: torch.Tensor, generator: torch.Generator | None = None,
                       noise: torch.Tensor | None = None) -> torch.Tensor:
        """Zero the memory slots that hold no real frame and add the augmentation noise (unit `noise`, drawn here
        when not given) to the real ones."""
        if noise is None:
            noise = torch.randn(memory.shape, generator=generator, device=memory.device, dtype=memory.dtype)
        mask = memory_mask(memory_lengths, self.config.memory)[:, :, None, None, None]
        return (memory + memory_noise.view(-1, 1, 1, 1, 1) * noise) * mask

    def check_inputs(self, memory: torch.Tensor, condition: torch.Tensor, hint: torch.Tensor | None = None) -> None:
        self.check_memory_and_condition(memory, condition)
        self.check_hint(hint, memory.shape[0])

    def check_memory_and_condition(self, memory: torch.Tensor, condition: torch.Tensor) -> None:
        c = self.config
        want = (c.memory, c.latent_channels, c.latent_size, c.latent_size)
        if memory.ndim != 5 or tuple(memory.shape[1:]) != want:
            raise ValueError(f"expected memory latents of shape (B, {', '.join(map(str, want))}), "
                             f"got {tuple(memory.shape)}")
        if condition.shape != (memory.shape[0], c.condition_dim):
            raise ValueError(f"expected conditions of shape ({memory.shape[0]}, {c.condition_dim}), "
                             f"got {tuple(condition.shape)}")

    def check_hint(self, hint: torch.Tensor | None, batch: int) -> None:
        r = self.config.hint_resolution
        if r and (hint is None or hint.shape != (batch, 3, r, r)):
            got = None if hint is None else tuple(hint.shape)
            raise ValueError(f"this denoiser needs a next-frame hint of shape ({batch}, 3, {r}, {r}), got {got}")
        if not r and hint is not None:
            raise ValueError("this denoiser takes no next-frame hint")

    def forward(self, target: torch.Tensor, memory: torch.Tensor, memory_lengths: torch.Tensor,
                condition: torch.Tensor, weights: torch.Tensor | None = None,
                hint: torch.Tensor | Callable[[torch.Tensor], torch.Tensor] | None = None,
                group: int = 1, contrast: float = 1.0) -> torch.Tensor:
        """EDM training loss for next latents `target` (B, C, h, w) (of their change from the last memory latent
        when the config says `predict_change`): noise levels, memory noise augmentation
        and condition dropout are all drawn here. `weights` (B, 1, h, w), mean 1, weight latent positions;
        `hint`, when the config asks for one: (B, 3, R, R) in [0, 1], or a function that draws it from the last
        memory latent (B, C, h, w), noised as the model sees it if the config says `hint_noise`.

        `group` > 1: the batch is made of groups of that many consecutive samples that share their memory and
        differ only in condition and target (counterfactual branches of one state, `data.branches`). A group
        shares all its noise, so the differences of its outputs answer only to the condition, and the part of
        each sample's error that differs from its group's mean error (what the condition got wrong) weighs
        `contrast` times in the loss."""
        c = self.config
        self.check_memory_and_condition(memory, condition)
        b = target.shape[0]
        if b % group:
            raise ValueError(f"a batch of {b} does not split into groups of {group}")

        def shared(x: torch.Tensor) -> torch.Tensor:  # one draw per group, repeated for its members
            return x[::group].repeat_interleave(group, dim=0) if group > 1 else x

        memory_noise = shared(torch.rand(b, device=target.device) * c.memory_noise_max)
        clean_last = memory[:, -1]  # the newest slot always holds a real frame
        if c.predict_change:
            target = target - clean_last
        memory = self.prepare_memory(memory, memory_lengths, memory_noise, noise=shared(torch.randn_like(memory)))
        if callable(hint):
            hint = hint(memory[:, -1] if c.hint_noise else clean_last)
        self.check_hint(hint, b)
        dropped = shared(torch.rand(b, device=target.device) < c.condition_dropout)
        sigma = shared((c.train_log_sigma_mean + c.train_log_sigma_std * torch.randn(b, device=target.device)).exp())
        noisy = target + sigma.view(-1, 1, 1, 1) * shared(torch.randn_like(target))
        c_in, c_skip, c_out, c_noise = self.preconditioning(sigma)
        raw = self.network(c_in * noisy, c_noise, memory, memory_lengths, memory_noise, condition, dropped, hint,
                           group)
        # EDM's loss weight 1 / c_out^2 makes this, without warp, the residual of F against its own target.
        residual = (self.output(raw, noisy, c_skip, c_out, clean_last) - target) / c_out
        error = residual.pow(2)
        if group > 1 and contrast != 1.0:
            grouped = residual.unflatten(0, (-1, group))
            error = error + (contrast - 1) * (grouped - grouped.mean(dim=1, keepdim=True)).pow(2).flatten(0, 1)
        return (error if weights is None else error * weights).mean()
