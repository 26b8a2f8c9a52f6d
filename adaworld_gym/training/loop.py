"""The one training loop every model here uses (latent action model, frame autoencoder, world model).

Read top to bottom: optimizer and EMA, resume, then one loop that fetches a batch, takes a step, logs, and
checkpoints. What differs between models lives in a `TrainTask`: how to compute the losses from a batch, what
extra numbers and images to log, and how to export the trained weights.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import torch
from accelerate import Accelerator
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

from adaworld_gym.io import write_json
from adaworld_gym.video import write_mp4
from adaworld_gym.training.configs import TrainerConfig
from adaworld_gym.training.state import has_train_state, load_train_state, save_train_state


def config_record(config: Any, **models: Any) -> dict[str, Any]:
    """A trainer config (paths as strings) plus model configs, as written to `train_config.json`."""
    def plain(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value
    return {"train": {k: plain(v) for k, v in asdict(config).items()},
            **{name: asdict(m) for name, m in models.items()}}


class TrainTask(Protocol):
    """What one model's training adds to the loop."""

    name: str  # progress bar label, e.g. "train-wm"

    def losses(self, model: nn.Module, batch: dict, step: int) -> tuple[dict[str, torch.Tensor], Any]:
        """Losses of one batch ("loss" is minimised; the rest are logged) and an output for the hooks below."""

    def diagnostics(self, model: nn.Module, batch: dict, output: Any) -> dict[str, float]:
        """Extra scalars, computed only every `log_every` steps (model in eval mode, no gradients)."""

    def images(self, model: nn.Module, batch: dict, output: Any) -> dict[str, torch.Tensor]:
        """(3, H, W) images or (N, T, 3, H, W) videos in [0, 1], every `image_every` steps (eval mode)."""

    def export(self, model: nn.Module, folder: Path, metadata: dict[str, Any]) -> None:
        """Write the trained (EMA) model as a loadable checkpoint."""


def time_progress(trained_seconds: float, config: TrainerConfig) -> float:
    """Share of `config.time_limit` used (0 without a limit)."""
    return trained_seconds / (60 * config.time_limit) if config.time_limit else 0.0


def learning_rate(step: int, config: TrainerConfig, trained_seconds: float = 0.0) -> float:
    """Linear warm-up over steps, then cosine decay to a tenth of the peak over the steps or the time limit,
    whichever is further along."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = max((step - config.warmup_steps) / max(1, config.steps - config.warmup_steps),
                   time_progress(trained_seconds, config))
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def image_grid(rows: list[torch.Tensor], count: int = 8) -> torch.Tensor:
    """Stack rows of (B, 3, H, W) images in [0, 1] into one (3, rows*H, count*W) image for TensorBoard."""
    return torch.cat([torch.cat(list(r[:count].detach().clamp(0, 1)), dim=-1) for r in rows], dim=-2)


@contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode for the logging hooks (sampling, rollouts), then back to training."""
    model.eval()
    try:
        yield
    finally:
        model.train()


def train(task: TrainTask, model: nn.Module, loader_at: Callable[[int], DataLoader], config: TrainerConfig,
          record: dict[str, Any], progress: bool = True) -> Path:
    """Train `model` (or resume it from `config.out`) for `config.steps` steps (or `config.time_limit` minutes);
    the export lands in `out/model`.

    `loader_at(step)` builds the data loader for a run starting at `step` (a resumed live stream takes new
    levels). `record` is written to `out/train_config.json`; every export records games, data and steps.
    """
    out = Path(config.out)
    accelerator = Accelerator()
    torch.manual_seed(config.seed + accelerator.process_index)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    # use_buffers: buffers (the autoencoder's latent statistics) are averaged too, not frozen at their start
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True) \
        if config.ema_decay else None
    modules = {"model": model, **({"ema": ema} if ema else {})}

    step, trained_seconds = 0, 0.0
    if has_train_state(out):
        meta = load_train_state(out, modules, optimizer)
        step, trained_seconds = meta["step"], meta["extra"]["trained_seconds"]
        accelerator.print(f"resuming {out} from step {step}")
    write_json(out / "train_config.json", record)

    loader = loader_at(step)
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
        task.export(export, out / "model", {"games": config.games, "preset": config.preset,
                                            "batch_size": config.batch_size, "data": config.data_description(),
                                            "trained_steps": step,
                                            "trained_seconds": round(trained_seconds),
                                            "weights": "ema" if ema is not None else "raw"})

    bar = tqdm(total=config.steps, initial=step, disable=not (progress and accelerator.is_local_main_process),
               desc=task.name, unit="step")
    batches = iter(loader)
    model.train()

    def finished() -> bool:
        return step >= config.steps or time_progress(trained_seconds, config) >= 1.0

    while not finished():
        started = time.perf_counter()
        try:
            batch = next(batches)
        except StopIteration:  # a finite dataset: start another epoch
            batches = iter(loader)
            batch = next(batches)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config, trained_seconds)
        losses, output = task.losses(model, batch, step)
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(losses["loss"])
        if config.grad_clip:
            accelerator.clip_grad_norm_(params, config.grad_clip)
        optimizer.step()
        if ema is not None:
            ema.update_parameters(accelerator.unwrap_model(model))
        step += 1
        trained_seconds += time.perf_counter() - started
        if config.time_limit and accelerator.num_processes > 1:  # every process must stop at the same step
            trained_seconds = float(accelerator.reduce(torch.tensor(trained_seconds, device=accelerator.device),
                                                       "max"))
        bar.update(1)

        if writer is not None and step % config.log_every == 0:
            scalars = {k: float(v.detach()) for k, v in losses.items()}
            with torch.no_grad(), evaluating(model):
                scalars.update(task.diagnostics(accelerator.unwrap_model(model), batch, output))
            for key, value in scalars.items():
                writer.add_scalar(f"train/{key}", value, step)
            writer.add_scalar("train/lr", optimizer.param_groups[0]["lr"], step)
            bar.set_postfix({k: f"{v:.3g}" for k, v in list(scalars.items())[:4]})
        if writer is not None and config.image_every and step % config.image_every == 0:
            with torch.no_grad(), evaluating(model):
                for tag, image in task.images(accelerator.unwrap_model(model), batch, output).items():
                    if image.ndim == 5:  # (N, T, 3, H, W) videos: an mp4 beside the logs (TensorBoard's
                        # add_video needs moviepy 1's editor module, gone in moviepy 2)
                        frames = (image.clamp(0, 1) * 255).round().byte().permute(1, 3, 0, 4, 2).flatten(2, 3)
                        write_mp4(frames.cpu().numpy(), out / "videos" / f"{tag.replace('/', '_')}_{step:07d}.mp4")
                    else:
                        writer.add_image(tag, image, step)
        if step % config.save_every == 0 or finished():
            save(step)
    bar.close()
    if writer is not None:
        writer.close()
    return out / "model"
