"""Train the latent action autoencoder on action-free frame pairs (`adaworld train-lam`).

Read top to bottom: data, model, optimizer, resume, then one loop that logs, checkpoints and exports.
Action labels never reach the model: only `batch["frames"]` is used.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

from adaworld_gym.data.clips import ClipDataset, LiveClipStream
from adaworld_gym.envs.procgen_games import PROCGEN_GAMES
from adaworld_gym.io import write_json
from adaworld_gym.models.latent_action import LatentActionModel, frames_to_float, preset
from adaworld_gym.training.state import has_train_state, load_train_state, save_train_state


@dataclass
class LamTrainConfig:
    out: Path
    preset: str = "cpu"
    steps: int = 8000
    batch_size: int = 32
    lr: float = 3e-4
    warmup_steps: int = 300
    # The KL weight is 0 for the first `kl_free_steps` (a plain autoencoder: the encoder must become informative
    # before the bottleneck can squeeze it, or the latent collapses to the prior), then rises linearly to beta.
    kl_free_steps: int = 2000
    kl_warmup_steps: int = 2000
    weight_decay: float = 0.01
    ema_decay: float = 0.999  # 0 disables EMA
    games: list[str] = field(default_factory=lambda: list(PROCGEN_GAMES))
    datasets: list[Path] | None = None  # None: stream live from Procgen (train levels, held-random policy)
    beta: float | None = None
    quantizer: str | None = None
    num_workers: int = 1
    log_every: int = 50
    image_every: int = 1000
    save_every: int = 500
    seed: int = 0


def learning_rate(step: int, config: LamTrainConfig) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def kl_scale(step: int, config: LamTrainConfig) -> float:
    return min(1.0, max(0.0, (step - config.kl_free_steps) / max(1, config.kl_warmup_steps)))


def make_pair_loader(config: LamTrainConfig, step: int) -> DataLoader:
    if config.datasets:
        data = ClipDataset(config.datasets, clip_len=2, games=config.games)
        return DataLoader(data, batch_size=config.batch_size, shuffle=True, num_workers=config.num_workers,
                          drop_last=True, persistent_workers=config.num_workers > 0)
    data = LiveClipStream(config.games, clip_len=2, num_envs=16, policy="held", split="train",
                          seed=config.seed + step)  # a resumed run streams new levels, not the same ones again
    return DataLoader(data, batch_size=config.batch_size, num_workers=config.num_workers)


def image_grid(rows: list[torch.Tensor], count: int = 8) -> torch.Tensor:
    """Stack rows of (B, 3, H, W) images in [0, 1] into one (3, rows*H, count*W) image for TensorBoard."""
    return torch.cat([torch.cat(list(r[:count].clamp(0, 1)), dim=-1) for r in rows], dim=-2)


def train_lam(config: LamTrainConfig, progress: bool = True) -> Path:
    """Train (or resume) into `config.out`; the exported model lands in `config.out / "model"`."""
    out = Path(config.out)
    accelerator = Accelerator()
    torch.manual_seed(config.seed + accelerator.process_index)
    model_config = preset(config.preset, beta=config.beta, quantizer=config.quantizer)
    model = LatentActionModel(model_config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay)) if config.ema_decay else None
    modules = {"model": model, **({"ema": ema} if ema else {})}

    step, trained_seconds = 0, 0.0
    if has_train_state(out):
        meta = load_train_state(out, modules, optimizer)
        step, trained_seconds = meta["step"], meta["extra"]["trained_seconds"]
        accelerator.print(f"resuming {out} from step {step}")
    config_record = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}
    config_record["datasets"] = [str(d) for d in config.datasets] if config.datasets else None
    write_json(out / "train_config.json", {"train": config_record, "model": asdict(model_config)})

    loader = make_pair_loader(config, step)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    if ema is not None:
        ema.to(accelerator.device)
    writer = SummaryWriter(str(out / "tb")) if accelerator.is_main_process else None

    def save(step: int) -> None:
        accelerator.wait_for_everyone()
        if not accelerator.is_main_process:
            return
        save_train_state(out, step, modules, optimizer, {"trained_seconds": trained_seconds})
        export = ema.module if ema is not None else accelerator.unwrap_model(model)
        export.save_pretrained(out / "model", {
            "games": config.games, "trained_steps": step, "batch_size": config.batch_size,
            "trained_seconds": round(trained_seconds), "preset": config.preset,
            "data": [str(d) for d in config.datasets] if config.datasets else "live Procgen stream, train levels",
            "weights": "ema" if ema is not None else "raw"})

    bar = tqdm(total=config.steps, initial=step, disable=not (progress and accelerator.is_local_main_process),
               desc="train-lam", unit="step")
    batches = iter(loader)
    model.train()
    while step < config.steps:
        started = time.perf_counter()
        try:
            batch = next(batches)
        except StopIteration:  # a finite dataset: start another epoch
            batches = iter(loader)
            batch = next(batches)
        pairs = batch["frames"][:, :2]
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config)
        output = model(pairs, kl_scale=kl_scale(step, config))
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(output.losses["loss"])
        accelerator.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if ema is not None:
            ema.update_parameters(accelerator.unwrap_model(model))
        step += 1
        trained_seconds += time.perf_counter() - started
        bar.update(1)

        if writer is not None and step % config.log_every == 0:
            losses = {k: float(v.detach()) for k, v in output.losses.items()}
            losses["psnr"] = -10 * math.log10(max(losses["mse"], 1e-10))
            with torch.no_grad():  # how much worse the prediction gets with another pair's latent
                frames = frames_to_float(pairs)
                shuffled = output.latent.roll(1, dims=0)
                wrong = (accelerator.unwrap_model(model).decode(frames[:, 0], shuffled) - frames[:, 1]).pow(2).mean()
            losses["delta_psnr"] = 10 * math.log10(max(float(wrong), 1e-10) / max(losses["mse"], 1e-10))
            losses["kl_scale"] = kl_scale(step, config)
            for key, value in losses.items():
                writer.add_scalar(f"train/{key}", value, step)
            writer.add_scalar("train/lr", optimizer.param_groups[0]["lr"], step)
            bar.set_postfix(psnr=f"{losses['psnr']:.1f}", dpsnr=f"{losses['delta_psnr']:.2f}",
                            kl=f"{losses.get('kl', 0):.1f}")
        if writer is not None and step % config.image_every == 0:
            frames = frames_to_float(pairs)
            diff = (output.prediction - frames[:, 1]).abs() * 4
            writer.add_image("pairs/f_t,f_t+1,prediction,4x|error|",
                             image_grid([frames[:, 0], frames[:, 1], output.prediction.detach(), diff.detach()]), step)
        if step % config.save_every == 0 or step == config.steps:
            save(step)
    bar.close()
    if writer is not None:
        writer.close()
    return out / "model"
