"""Simulator speed: world model rollout frames/s at batch 1 and 64 vs real Procgen, and pixels vs latents.

    python benchmarks/rollout_speed.py [--model runs/wm-cpu/model] [--device cuda] [--batches 1 16 256] [--quick]

Rows: the world model's batched rollout API (default sampler, every frame decoded to uint8 pixels), where one of
its steps spends the time (the next-frame hint of a `--hint` model, the denoising steps, decoding to pixels), the
same denoiser run in pixel space at 64x64 (what latent diffusion saves; no decoder needed there), and real Procgen
stepping of the same batch sizes. Writes `rollout_speed.json` and `rollout_speed.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from adaworld_gym.envs.procgen_batch import ProcgenBatch
from adaworld_gym.models.diffusion.denoiser import Denoiser
from adaworld_gym.models.diffusion.sampler import DiffusionSampler, SamplerConfig
from adaworld_gym.models.world_model import WorldModel, to_uint8
from adaworld_gym.weights import pretrained_path


def timed(fn, repeats: int, device: torch.device) -> float:
    def run() -> None:
        fn()
        if device.type == "cuda":  # GPU work is asynchronous: count it finished, not queued
            torch.cuda.synchronize(device)

    run()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - start) / repeats


def world_model_fps(model: WorldModel, batch: int, steps: int, sampler: SamplerConfig, seed: int) -> float:
    device = model.device
    context = torch.randint(0, 256, (batch, model.memory, 3, model.resolution, model.resolution), dtype=torch.uint8,
                            device=device)
    conditions = torch.randn(batch, steps, model.condition.dim, device=device)
    seconds = timed(lambda: model.rollout(context, conditions, sampler, seed=seed), 2, device)
    return batch * steps / seconds


def step_parts_ms(model: WorldModel, batch: int, sampler: SamplerConfig, seed: int) -> dict[str, float]:
    """Milliseconds of one rollout step in each of its parts, each timed alone from the same state."""
    device = model.device
    context = torch.randint(0, 256, (batch, model.memory, 3, model.resolution, model.resolution), dtype=torch.uint8,
                            device=device)
    condition = torch.randn(batch, model.condition.dim, device=device)
    state, run = model.start(context), model.sampler(sampler)
    generator = torch.Generator(device).manual_seed(seed)
    with torch.no_grad():
        hint = model.next_frame_hint(state, condition)
        latent = run.sample(state.memory, state.lengths, condition, generator, hint)
        parts = {"denoise": lambda: run.sample(state.memory, state.lengths, condition, generator, hint),
                 "decode": lambda: to_uint8(model.autoencoder.decode(latent))}
        if hint is not None:
            parts["hint"] = lambda: model.next_frame_hint(state, condition)
        return {name: 1000 * timed(part, 3, device) for name, part in parts.items()}


def pixel_space_fps(model: WorldModel, batch: int, sampler: SamplerConfig) -> float:
    """The same denoiser configuration on 64x64x3 pixels instead of the latents (random weights: speed only)."""
    c = model.denoiser.config
    device = model.device
    # No next-frame hint there: in pixel space the hint would be 3 more input channels, a negligible cost.
    pixel = Denoiser(replace(c, latent_channels=3, latent_size=model.resolution, hint_resolution=0,
                             hint_noise=False)).eval().to(device)
    pixel.to(memory_format=torch.channels_last)  # the layout WorldModel gives its own denoiser
    run = DiffusionSampler(pixel, sampler)
    memory = torch.randn(batch, c.memory, 3, model.resolution, model.resolution, device=device)
    cond = torch.randn(batch, c.condition_dim, device=device)
    lengths = torch.full((batch,), c.memory, device=device)
    seconds = timed(lambda: run.sample(memory, lengths, cond), 2, device)
    return batch / seconds


def procgen_fps(batch: int, steps: int, seed: int) -> float:
    env = ProcgenBatch("coinrun", batch, seed=seed)
    rng = np.random.default_rng(seed)
    actions = [rng.integers(15, size=batch) for _ in range(steps)]
    start = time.perf_counter()
    for a in actions:
        env.step(a)
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="world model folder (default: shipped wm-cpu)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--steps", type=int, default=20, help="rollout length per timing")
    parser.add_argument("--denoising-steps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (the simulator's device option)")
    parser.add_argument("--quick", action="store_true", help="batch 1 and 4, 3 steps: checks it runs")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "rollout_speed")
    args = parser.parse_args()
    if args.quick:
        args.batches, args.steps = [1, 4], 3
    torch.manual_seed(args.seed)
    model = WorldModel.from_pretrained(args.model or pretrained_path("wm-cpu"), device=args.device)
    sampler = SamplerConfig(num_steps=args.denoising_steps)
    settings = {"model": str(args.model or "shipped wm-cpu"), "batches": args.batches, "steps": args.steps,
                "sampler": vars(sampler), "seed": args.seed, "torch_threads": torch.get_num_threads(),
                "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
                "torch": torch.__version__, "device": args.device,
                "device_name": torch.cuda.get_device_name() if model.device.type == "cuda" else None}
    print("settings:", json.dumps(settings))
    rows = []
    for batch in args.batches:
        row = {"batch": batch,
               "world_model_fps": world_model_fps(model, batch, args.steps, sampler, args.seed),
               "step_ms": step_parts_ms(model, batch, sampler, args.seed),
               "pixel_space_fps": pixel_space_fps(model, batch, sampler),
               "procgen_fps": procgen_fps(batch, max(args.steps, 200), args.seed)}
        rows.append(row)
        print(json.dumps(row))
    table = ["| batch | world model (latent diffusion + decode) frames/s | one step, ms: hint / denoise / decode | "
             "same denoiser in pixel space frames/s | real Procgen frames/s |", "|---|---|---|---|---|"]
    for r in rows:
        parts = " / ".join(f"{r['step_ms'][name]:.0f}" if name in r["step_ms"] else "-"
                           for name in ("hint", "denoise", "decode"))
        table.append(f"| {r['batch']} | {r['world_model_fps']:.1f} | {parts} | {r['pixel_space_fps']:.1f} | "
                     f"{r['procgen_fps']:.0f} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "rollout_speed.json").write_text(json.dumps({"settings": settings, "rows": rows}, indent=2))
    (args.out / "rollout_speed.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
