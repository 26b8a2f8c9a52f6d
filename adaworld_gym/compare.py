"""Sim vs real (`adaworld compare`): the same start and actions in the real environment (a Procgen level, or the
environment an `adapt --env` adapter was made for) and in the learned simulator; per-step PSNR/SSIM, reward and
episode-end agreement, a side-by-side mp4 and a PNG plot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from adaworld_gym.config_cli import check_at_least
from adaworld_gym.data.policies import check_random_policy, make_policy
from adaworld_gym.evaluation.metrics import mse, psnr_of_mse, ssim
from adaworld_gym.io import save_figure, write_json
from adaworld_gym.side_by_side import SIDES, SideBySideConfig, open_side_by_side
from adaworld_gym.video import contact_sheet, write_mp4


@dataclass
class CompareConfig(SideBySideConfig):
    """Same start and actions in the real game (or adapted environment) and the learned simulator: how far apart
    they get."""

    steps: int = 100  # steps at most (the real episode's end stops earlier)
    policy: str = "held"  # the actions: random or held (random, each held a few steps)
    out: Path = Path("demo")  # folder for the mp4, the PNG plot, the contact sheet and the JSON

    def __post_init__(self) -> None:
        super().__post_init__()
        check_random_policy(self.policy)
        check_at_least(self, {"steps": 1})


def compare(config: CompareConfig) -> dict[str, Any]:
    """Run both from the real first frame with the same actions until the real episode ends: a Procgen game, or
    the Discrete environment an `adapt --env` adapter names."""
    policy, seed, denoising_steps, steps = config.policy, config.seed, config.denoising_steps, config.steps
    pair = open_side_by_side(SIDES, config)
    real, sim, space = pair.envs["real"], pair.envs["sim"], pair.action_space
    if not isinstance(space, gym.spaces.Discrete):
        pair.close()
        raise ValueError(f"{pair.name}: compare plays held-random Discrete actions; its action space is {space}")
    start = pair.restart(seed)
    real_obs, sim_obs = start["real"], start["sim"]
    pick = make_policy(policy, int(space.n), 1, seed)
    frames_real, frames_sim, rows, sim_over = [real_obs], [sim_obs], [], False
    for t in range(steps):
        action = int(space.start) + int(pick(real_obs[None], np.array([t == 0]))[0])
        real_obs, real_reward, real_term, real_trunc, _ = real.step(action)
        sim_reward, sim_term = 0.0, sim_over  # once the simulator ended its episode, its last frame stays
        if not sim_over:
            sim_obs, sim_reward, sim_term, sim_trunc, _ = sim.step(action)
            sim_over = sim_term or sim_trunc
        frames_real.append(real_obs), frames_sim.append(sim_obs)
        rows.append({"action": action, "real_reward": float(real_reward), "sim_reward": sim_reward,
                     "real_end": bool(real_term), "sim_end": bool(sim_term)})
        if real_term or real_trunc:
            break
    a, b = (torch.from_numpy(np.stack(f)).permute(0, 3, 1, 2) for f in (frames_real, frames_sim))
    frozen = a[:1].expand_as(a)  # the baseline: the start frame, repeated
    per_step_psnr = [psnr_of_mse(float(v)) for v in mse(a, b)[1:]]
    per_step_ssim = ssim(a, b)[1:].tolist()
    repeat_psnr = [psnr_of_mse(float(v)) for v in mse(a, frozen)[1:]]
    repeat_ssim = ssim(a, frozen)[1:].tolist()
    rewards_agree = float(np.mean([(r["real_reward"] > 0) == (r["sim_reward"] > 0) for r in rows]))
    ends_agree = float(np.mean([r["real_end"] == r["sim_end"] for r in rows]))
    pair.close()
    return {"settings": {"game": pair.name, **pair.settings, "policy": policy, "seed": seed,
                         "denoising_steps": denoising_steps, "steps_run": len(rows)},
            "psnr_per_step": per_step_psnr, "ssim_per_step": per_step_ssim,
            "repeat_start_frame": {"psnr_per_step": repeat_psnr, "ssim_per_step": repeat_ssim},
            "reward_agreement": rewards_agree,
            "end_agreement": ends_agree, "steps": rows, "frames_real": np.stack(frames_real),
            "frames_sim": np.stack(frames_sim)}


def write_compare(report: dict[str, Any], out: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out, game = Path(out), report["settings"]["game"]
    video = write_mp4(np.concatenate([report["frames_real"], report["frames_sim"]], axis=2),
                      out / f"{game}_real_vs_sim.mp4")
    frames_real, frames_sim = report.pop("frames_real"), report.pop("frames_sim")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, metric, title in ((axes[0], "psnr_per_step", f"{game}: PSNR vs real (dB)"),
                              (axes[1], "ssim_per_step", "SSIM vs real")):
        ax.plot(report[metric], label="simulator")
        ax.plot(report["repeat_start_frame"][metric], "--", label="start frame repeated")
        ax.set(title=title, xlabel="step"), ax.legend()
    plot = save_figure(fig, out / f"{game}_real_vs_sim.png")
    # Every 5th step, real above imagined: what the numbers mean, at a glance.
    picks = np.arange(0, len(frames_real), 5)[:10]
    sheet = contact_sheet(np.concatenate([frames_real[picks], frames_sim[picks]]),
                          out / f"{game}_real_vs_sim_sheet.png", columns=len(picks), max_frames=2 * len(picks))
    write_json(out / f"{game}_real_vs_sim.json", report)
    return {"video": video, "plot": plot, "sheet": sheet, "json": out / f"{game}_real_vs_sim.json"}
