"""Few-step sampling of the next latent: Euler steps of the probability-flow ODE over the Karras noise levels
of diffusers' `EDMEulerScheduler` (the denoiser applies EDM's preconditioning itself).

Deterministic given a `torch.Generator`: the initial noise and the memory noise are its only randomness.
Classifier-free guidance (scale > 1) runs the conditioned and the condition-dropped model in one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import EDMEulerScheduler

from adaworld_gym.models.diffusion.denoiser import Denoiser


@dataclass
class SamplerConfig:
    num_steps: int = 3  # denoising steps (network evaluations) per frame
    guidance_scale: float = 1.0  # 1: no guidance (one network evaluation per step)
    memory_noise: float = 0.0  # noise level added to the memory at inference (the model is told it)

    def __post_init__(self) -> None:
        if self.num_steps < 1:
            raise ValueError(f"num_steps must be at least 1, got {self.num_steps}")
        if self.guidance_scale < 0:
            raise ValueError(f"guidance_scale must be >= 0, got {self.guidance_scale}")


class DiffusionSampler:
    def __init__(self, denoiser: Denoiser, config: SamplerConfig | None = None):
        self.denoiser = denoiser
        self.config = config or SamplerConfig()
        c = denoiser.config
        self.scheduler = EDMEulerScheduler(sigma_min=c.sigma_min, sigma_max=c.sigma_max, sigma_data=c.sigma_data,
                                           rho=c.rho, sigma_schedule="karras", prediction_type="epsilon")

    @torch.no_grad()
    def sample(self, memory: torch.Tensor, memory_lengths: torch.Tensor, condition: torch.Tensor,
               generator: torch.Generator | None = None, hint: torch.Tensor | None = None) -> torch.Tensor:
        """Next latents (B, C, h, w) given memory latents (B, K, C, h, w), real memory lengths (B,),
        conditions (B, condition_dim) and, for a denoiser that takes one, the next-frame hint (B, 3, R, R)."""
        denoiser, config = self.denoiser, self.config
        denoiser.check_inputs(memory, condition, hint)
        b, device = memory.shape[0], memory.device
        last = memory[:, -1]
        memory_noise = torch.full((b,), config.memory_noise, device=device)
        memory = denoiser.prepare_memory(memory, memory_lengths, memory_noise, generator)
        guided = config.guidance_scale != 1.0
        kept = torch.zeros(b, dtype=torch.bool, device=device)
        if guided:  # conditioned and unconditioned halves in one batch
            memory, memory_lengths, memory_noise = (torch.cat([x, x]) for x in (memory, memory_lengths, memory_noise))
            condition, dropped = torch.cat([condition, condition]), torch.cat([kept, ~kept])
            hint = None if hint is None else torch.cat([hint, hint])
        else:
            dropped = kept
        self.scheduler.set_timesteps(config.num_steps, device=device)
        sigmas = self.scheduler.sigmas.to(device)
        # Noise at the first level itself: the scheduler's init_noise_sigma is sqrt(sigma_max^2 + 1), which
        # assumes unit-scale data (10.05 for 10, but 1.41 for a pixel-change model's sigma_max of 1).
        x = torch.randn((b, *memory.shape[2:]), generator=generator, device=device) * sigmas[0]
        for sigma, next_sigma in zip(sigmas[:-1], sigmas[1:]):
            inp = torch.cat([x, x]) if guided else x
            denoised = denoiser.denoise(inp, sigma.expand(inp.shape[0]).to(device), memory, memory_lengths,
                                        memory_noise, condition, dropped, hint,
                                        torch.cat([last, last]) if guided else last)
            if guided:
                conditioned, unconditioned = denoised.chunk(2)
                denoised = unconditioned + config.guidance_scale * (conditioned - unconditioned)
            x = x + (x - denoised) / sigma * (next_sigma - sigma)  # Euler step of the probability-flow ODE
        return last + x if denoiser.config.predict_change else x
