"""How good is a world model? Measured on Procgen test levels (0-999), for several models on the same data.

- teacher-forced next-frame PSNR/SSIM: real memory, the real transition's condition;
- open-loop rollouts from K real frames, conditioned on the real future's conditions (latent actions for
  AdaWorld, flow for the flow baseline, nothing for the action-agnostic one): PSNR/SSIM at given horizons;
- action transfer: a held move demonstrated in one level, its conditions replayed from another level's first
  frame; an inverse-dynamics classifier (trained on real transitions) says how often the imagined frames show
  the demonstrated move. Chance is 1/4; the same classifier on the real target level is the reference, and on
  the frame autoencoder's reconstruction of it the ceiling a latent-space model can reach;
- control: the same judge on one-step predictions along the real target clips (real memory), with each
  transition's own condition and with another clip's: does the model draw the move its condition says?
- long horizon: 200-step rollouts, per-step PSNR, frame standard deviation and colour histogram distance to the
  real frames of the same step (a collapsing model goes flat or drifts in colour).
PSNRs are of the mean squared error over all frames at a horizon (pixels in [0, 1]); SSIMs are means.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from adaworld_gym.data.branches import real_branches
from adaworld_gym.data.clips import test_clips
from adaworld_gym.envs.procgen_batch import ProcgenBatch
from adaworld_gym.envs.procgen_games import TEST_LEVELS
from adaworld_gym.evaluation.configs import WmEvalConfig
from adaworld_gym.evaluation.controllability import controllability, pooled, world_model_predictor
from adaworld_gym.evaluation.inverse_dynamics import InverseDynamics, train_inverse_dynamics
from adaworld_gym.evaluation.metrics import (bootstrap_margin_se, colour_histogram, mse, paired_mean_margin,
                                             psnr_of_mse, ssim)
from adaworld_gym.io import save_figure, write_json
from adaworld_gym.models.diffusion.sampler import SamplerConfig
from adaworld_gym.models.world_model import WorldModel, to_uint8

HORIZONS = (1, 5, 10, 20, 50)
TRANSFER_GAMES = ("coinrun", "jumper", "climber", "ninja", "maze", "heist")
# Held-random play on test levels (8 envs, 600 steps): median episode 500 steps in maze, 346 in heist, 427 in
# plunder, but 37 in fruitbot (max 123), so only games like the first three yield 200-step clips at all.
LONG_GAMES = ("maze", "heist", "plunder")
COUNTERFACTUAL_HOLDS = (1, 3)


def _batched_rollout(model: WorldModel, context: torch.Tensor, conditions: torch.Tensor, sampler: SamplerConfig,
                     seed: int, batch_size: int) -> torch.Tensor:
    return torch.cat([model.rollout(c, k, sampler, seed=seed + i)
                      for i, (c, k) in enumerate(zip(context.split(batch_size), conditions.split(batch_size)))])


def imagine_future(model: WorldModel, clips: torch.Tensor, steps: int, sampler: SamplerConfig, seed: int = 0,
                   batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Roll out `steps` frames from the first K frames of each clip with the conditions of its real future;
    returns (imagined, real) frames of shape (N, steps, 3, H, W)."""
    k = model.memory
    conditions = model.label(clips[:, k - 1:k + steps])
    imagined = _batched_rollout(model, clips[:, :k], conditions, sampler, seed, batch_size)
    return imagined, clips[:, k:k + steps]


def horizon_scores(imagined: torch.Tensor, real: torch.Tensor, horizons: tuple[int, ...],
                   per_clip: bool = False) -> dict[str, Any]:
    """PSNR (of the mean squared error over all clips) and mean SSIM at each horizon, and PSNR at every step, of
    rollouts (N, T, 3, H, W) against the real frames; with `per_clip`, also each clip's squared error at each
    horizon."""
    errors = mse(imagined, real)
    per_step_mse = errors.mean(dim=0)
    per_step_ssim = ssim(imagined, real).mean(dim=0)
    scores = {"psnr": {str(h): psnr_of_mse(float(per_step_mse[h - 1])) for h in horizons},
              "ssim": {str(h): float(per_step_ssim[h - 1]) for h in horizons},
              "psnr_per_step": [psnr_of_mse(float(v)) for v in per_step_mse]}
    if per_clip:
        scores["mse_per_clip"] = {str(h): errors[:, h - 1].tolist() for h in horizons}
    return scores


def psnr_margin(lead: dict[str, Any], other: dict[str, Any], horizon: str) -> dict[str, float | None]:
    """PSNR of `lead` minus that of `other` at a horizon, from two `horizon_scores` results on the same clips,
    with its paired bootstrap standard error over the clips (None unless both kept their per-clip errors)."""
    clips = [scores.get("mse_per_clip", {}).get(horizon) for scores in (lead, other)]
    return {"dB": lead["psnr"][horizon] - other["psnr"][horizon],
            "se": bootstrap_margin_se(*clips) if all(clips) else None}


def teacher_forced(model: WorldModel, clips: torch.Tensor, sampler: SamplerConfig, seed: int = 0,
                   batch_size: int = 64) -> dict[str, float]:
    """Next frame from K real frames and the real transition's condition, at every position of every clip."""
    k = model.memory
    windows = clips.unfold(1, k + 1, 1).permute(0, 1, 5, 2, 3, 4).flatten(0, 1)  # (N * positions, K+1, ...)
    conditions = model.label(windows[:, k - 1:])
    predicted = _batched_rollout(model, windows[:, :k], conditions, sampler, seed, batch_size)[:, 0]
    return {"psnr": psnr_of_mse(float(mse(predicted, windows[:, k]).mean())),
            "ssim": float(ssim(predicted, windows[:, k]).mean()), "frames": int(windows.shape[0])}


@dataclass
class TransferCases:
    """A held move demonstrated in one test level and the same moves played in another (the reference)."""

    source: torch.Tensor  # (N, L+1, 3, H, W) uint8
    target: torch.Tensor  # (N, L+1, 3, H, W) uint8, real
    moves: torch.Tensor  # (N,) 0-3: LEFT, DOWN, UP, RIGHT


def _held_moves(game: str, moves: np.ndarray, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames (N, L+1, H, W, 3) of each env holding its move from a level start; and which episodes lasted."""
    batch = ProcgenBatch(game, len(moves), start_level=TEST_LEVELS[0], num_levels=TEST_LEVELS[1], actions="moves",
                         seed=seed)
    frames, alive = [batch.obs], np.ones(len(moves), dtype=bool)
    for _ in range(length):
        step = batch.step(moves)
        alive &= ~(step.terminated | step.truncated)
        frames.append(step.obs)
    return np.stack(frames, axis=1), alive


def transfer_cases(game: str, count: int, length: int = 8, seed: int = 0) -> TransferCases:
    moves = np.arange(count) % 4
    source, source_alive = _held_moves(game, moves, length, seed)
    target, target_alive = _held_moves(game, moves, length, seed + 7777)  # other levels
    keep = source_alive & target_alive
    to_t = lambda x: torch.from_numpy(x[keep]).permute(0, 1, 4, 2, 3).contiguous()
    return TransferCases(to_t(source), to_t(target), torch.from_numpy(moves[keep]))


def move_accuracy(judge: InverseDynamics, frames: torch.Tensor, moves: torch.Tensor) -> torch.Tensor:
    """Per clip (N,), the share of the transitions of (N, L+1, ...) frames the judge reads as the clip's move."""
    n, steps = frames.shape[0], frames.shape[1] - 1
    predicted = judge.predict(frames[:, :-1].flatten(0, 1), frames[:, 1:].flatten(0, 1)).reshape(n, steps)
    return (predicted == moves[:, None]).float().mean(dim=1)


def transfer(model: WorldModel, cases: TransferCases, judge: InverseDynamics, sampler: SamplerConfig,
             seed: int = 0) -> torch.Tensor:
    """Per case (N,): the judge's accuracy on the target level's imagined replay of the source's conditions."""
    imagined = model.rollout(cases.target[:, :1], model.label(cases.source), sampler, seed=seed)
    return move_accuracy(judge, torch.cat([cases.target[:, :1], imagined], dim=1), cases.moves)


@torch.no_grad()
def reconstruct(model: WorldModel, frames: torch.Tensor) -> torch.Tensor:
    """(N, T, 3, H, W) uint8 through the model's frame autoencoder and back."""
    latents = model.autoencoder.encode(frames.flatten(0, 1).to(model.device))
    return to_uint8(model.autoencoder.decode(latents)).cpu().reshape(frames.shape)


def control(model: WorldModel, cases: TransferCases, judge: InverseDynamics, sampler: SamplerConfig,
            autoencoded: torch.Tensor, seed: int = 0) -> dict[str, float]:
    """Judge accuracy of one-step predictions along the real target clips, with the true conditions and with
    those of other clips (a fixed derangement: same distribution, unrelated moves). The judge compares each
    prediction with the previous frame from `autoencoded` (the target through the model's autoencoder), so both
    sides carry the same reconstruction blur."""
    frames, n = cases.target, cases.target.shape[0]
    conditions = model.label(frames)
    other = torch.roll(torch.arange(n), 1)
    previous = autoencoded[:, :-1]
    scores = {}
    for name, chosen in (("true", conditions), ("shuffled", conditions[other])):
        following = torch.stack([model.rollout(frames[:, max(0, t + 1 - model.memory):t + 1], chosen[:, t:t + 1],
                                               sampler, seed=seed)[:, 0] for t in range(frames.shape[1] - 1)], 1)
        predicted = judge.predict(previous.flatten(0, 1), following.cpu().flatten(0, 1)).reshape(n, -1)
        scores[name] = float((predicted == cases.moves[:, None]).float().mean())
    return scores


def transfer_setup(game: str, index: int, per_game: int, seed: int = 0, judge_transitions: int = 20000,
                   judge_steps: int = 3000, judge_cache: Path | None = None
                   ) -> tuple[InverseDynamics, float, TransferCases]:
    """The judge (and its held-out accuracy) and the held-move cases of the `index`-th transfer game; one place
    for their seeds, so every benchmark that uses them scores against the same judges and cases."""
    judge, accuracy = train_inverse_dynamics(game, judge_transitions, judge_steps, seed=seed + index,
                                             cache=judge_cache)
    return judge, accuracy, transfer_cases(game, per_game, seed=seed + 100 * index)


def long_horizon(model: WorldModel, clips: torch.Tensor, sampler: SamplerConfig, seed: int = 0,
                 batch_size: int = 64) -> dict[str, Any]:
    steps = clips.shape[1] - model.memory
    imagined, real = imagine_future(model, clips, steps, sampler, seed, batch_size)
    per_step_mse = mse(imagined, real).mean(dim=0)
    std = lambda x: x.float().std(dim=(-3, -2, -1)).mean(dim=0)  # per-step mean of per-frame pixel std
    # total variation between the per-channel histograms, averaged over the 3 channels: 0 same, 1 disjoint
    hist = [float((colour_histogram(imagined[:, t]) - colour_histogram(real[:, t])).abs().sum() / 6)
            for t in range(steps)]
    imagined_std, real_std = std(imagined), std(real)
    ratio = float(imagined_std[-20:].mean() / real_std[-20:].mean())
    drift = float(np.mean(hist[-20:]))
    return {"steps": steps, "psnr_per_step": [psnr_of_mse(float(v)) for v in per_step_mse],
            "frame_std_per_step": imagined_std.tolist(), "real_frame_std_per_step": real_std.tolist(),
            "histogram_distance_per_step": hist,
            "last20_std_ratio": ratio, "last20_histogram_distance": drift,
            "first20_histogram_distance": float(np.mean(hist[:20])),
            # Collapse: the frames go flat (std far below the real frames') or their colours drift far away.
            "collapsed": bool(ratio < 0.5 or drift > 0.5)}


def evaluate_world_models(models: dict[str, WorldModel], games: list[str], clips_per_game: int = 4,
                          transfer_per_game: int = 32, long_per_game: int = 6, long_steps: int = 200,
                          sampler: SamplerConfig | None = None, seed: int = 0,
                          transfer_games: tuple[str, ...] = TRANSFER_GAMES, long_games: tuple[str, ...] = LONG_GAMES,
                          judge_steps: int = 3000, judge_transitions: int = 20000, horizons: tuple[int, ...] = HORIZONS,
                          judge_cache: Path | None = None, baseline: str | None = None,
                          counterfactual_states: int = 8, progress: bool = True) -> dict[str, Any]:
    """All measurements for every model on the same test data; returns a JSON-ready report. With `baseline`
    (one of the models' names), also every other model's margins over it, with standard errors. Besides the
    models: the repeat-last-frame baseline on the open-loop clips and, for conditioned models, counterfactual move
    accuracy given the true conditions (`counterfactual_states` saved states per transfer game; 0 skips it)."""
    if baseline is not None and baseline not in models:
        raise ValueError(f"baseline {baseline!r} is not one of the models {sorted(models)}")
    sampler = sampler or SamplerConfig()
    say = print if progress else (lambda *a: None)
    memory = {m.memory for m in models.values()}
    if len(memory) != 1:
        raise ValueError(f"the models compared must share the memory length, got {sorted(memory)}")
    k = memory.pop()
    clips, _ = test_clips(games, clips_per_game, k + max(horizons), seed)
    say(f"open-loop and teacher-forced clips: {tuple(clips.shape)}")
    long_clips = test_clips(long_games, long_per_game, k + long_steps, seed + 1)[0] if long_steps else None
    judges, cases, reference = {}, {}, {}
    for g, game in enumerate(transfer_games):
        judges[game], idm_accuracy, cases[game] = transfer_setup(game, g, transfer_per_game, seed,
                                                                 judge_transitions, judge_steps, judge_cache)
        reference[game] = {"judge_accuracy_train_levels": idm_accuracy,
                           "real_target": float(move_accuracy(judges[game], cases[game].target,
                                                              cases[game].moves).mean()),
                           "cases": int(len(cases[game].moves)), "autoencoded_target": {}}
        say(f"transfer judge {game}: {reference[game]}")
    report: dict[str, Any] = {"settings": {"games": games, "clips_per_game": clips_per_game, "horizons": horizons,
                                           "transfer_games": transfer_games, "transfer_per_game": transfer_per_game,
                                           "long_games": long_games, "long_per_game": long_per_game,
                                           "long_steps": long_steps, "sampler": vars(sampler), "seed": seed,
                                           "judge_steps": judge_steps, "judge_transitions": judge_transitions,
                                           "memory": k, "levels": "test (0-999)", "policy": "held-random",
                                           "counterfactual_states": counterfactual_states},
                              "transfer_reference": reference, "models": {}}
    # The dumbest baseline, on the same clips: the last real frame, repeated.
    frozen = clips[:, k - 1:k].expand(-1, max(horizons), -1, -1, -1)
    report["repeat_last_frame"] = horizon_scores(frozen, clips[:, k:k + max(horizons)], horizons)
    branches = {game: real_branches(game, counterfactual_states, k, max(COUNTERFACTUAL_HOLDS), seed)
                for game in transfer_games} if counterfactual_states else {}
    for name, model in models.items():
        imagined, real = imagine_future(model, clips, max(horizons), sampler, seed)
        per_case = {game: transfer(model, cases[game], judges[game], sampler, seed).tolist()
                    for game in transfer_games}
        result = {"open_loop": horizon_scores(imagined, real, horizons, per_clip=True),
                  "teacher_forced": teacher_forced(model, clips[:, :k + 8], sampler, seed),
                  "transfer": {game: float(np.mean(scores)) for game, scores in per_case.items()},
                  "transfer_per_case": per_case}
        result["transfer"]["mean"] = float(np.mean([result["transfer"][g] for g in transfer_games]))
        result["control"] = {}
        for game in transfer_games:
            autoencoded = reconstruct(model, cases[game].target)
            reference[game]["autoencoded_target"][name] = float(move_accuracy(judges[game], autoencoded,
                                                                              cases[game].moves).mean())
            result["control"][game] = control(model, cases[game], judges[game], sampler, autoencoded, seed)
        result["control"]["mean"] = {k: float(np.mean([result["control"][g][k] for g in transfer_games]))
                                     for k in ("true", "shuffled")}
        if branches and model.condition.kind != "none":  # counterfactual moves, given their true conditions
            per_game = {game: controllability(b, world_model_predictor(model, seed, sampler)(b), COUNTERFACTUAL_HOLDS)
                        for game, b in branches.items()}
            result["counterfactual"] = {"per_game": per_game, "pooled": pooled(per_game)}
        if long_clips is not None:
            result["long_horizon"] = long_horizon(model, long_clips, sampler, seed)
        result["condition"] = model.condition.describe()
        result["trained_steps"] = model.metadata.get("trained_steps")
        report["models"][name] = result
        say(f"{name}: {markdown_row(name, result, horizons)}")
    if baseline is not None:
        report["settings"]["baseline"] = baseline
        report["margins"] = {name: margins_over(report["models"][name], report["models"][baseline], transfer_games)
                             for name in models if name != baseline}
    return report


def margins_over(result: dict[str, Any], baseline: dict[str, Any], transfer_games: tuple[str, ...]) -> dict[str, Any]:
    """Open-loop PSNR margins at each horizon (bootstrap standard error over the clips) and the transfer margin
    (standard error from the paired per-case differences, games weighted equally) of one model over another
    scored on the same clips and cases."""
    lead, other = result["open_loop"], baseline["open_loop"]
    return {"open_loop_psnr": {h: psnr_margin(lead, other, h) for h in lead["psnr"]},
            "transfer": paired_mean_margin([result["transfer_per_case"][g] for g in transfer_games],
                                           [baseline["transfer_per_case"][g] for g in transfer_games])}


def markdown_row(name: str, result: dict[str, Any], horizons: tuple[int, ...] = HORIZONS) -> str:
    ol, tf = result["open_loop"], result["teacher_forced"]
    cells = [name, f"{tf['psnr']:.2f} / {tf['ssim']:.3f}"]
    cells += [f"{ol['psnr'][str(h)]:.2f} / {ol['ssim'][str(h)]:.3f}" for h in horizons]
    cells.append(f"{result['transfer']['mean']:.1%}")
    cells.append(f"{result['control']['mean']['true']:.1%} / {result['control']['mean']['shuffled']:.1%}")
    if "long_horizon" in result:
        lh = result["long_horizon"]
        cells.append(f"{lh['psnr_per_step'][-1]:.2f} dB, std ratio {lh['last20_std_ratio']:.2f}, "
                     f"hist {lh['last20_histogram_distance']:.2f}{' COLLAPSED' if lh['collapsed'] else ''}")
    return "| " + " | ".join(cells) + " |"


def markdown_summary(report: dict[str, Any]) -> str:
    horizons = tuple(report["settings"]["horizons"])
    header = ["model", "teacher-forced PSNR / SSIM"] + [f"open-loop {h} PSNR / SSIM" for h in horizons]
    header += ["transfer (judge)", "control: true / shuffled condition"]
    header += [f"step {report['settings']['long_steps']}"] if report["settings"]["long_steps"] else []
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [markdown_row(name, result, horizons) for name, result in report["models"].items()]
    if "repeat_last_frame" in report:
        frozen = report["repeat_last_frame"]
        lines.append("| repeat last real frame (baseline) | - | " + " | ".join(
            f"{frozen['psnr'][str(h)]:.2f} / {frozen['ssim'][str(h)]:.3f}" for h in horizons) + " | -" * (
            len(header) - 2 - len(horizons)) + " |")
    counterfactual = {n: r["counterfactual"]["pooled"] for n, r in report["models"].items() if "counterfactual" in r}
    if counterfactual:
        holds = list(next(iter(counterfactual.values())))
        lines += ["", "Counterfactual moves given the true conditions (right / scored; chance 25%; "
                  "benchmarks/controllability.py):", "", "| model | " + " | ".join(f"H={h}" for h in holds) + " |",
                  "|---|" + "---|" * len(holds)]
        for name, scores in counterfactual.items():
            lines.append(f"| {name} | " + " | ".join(
                "-" if scores[h]["accuracy"] is None else
                f"{scores[h]['accuracy']:.1%} ({scores[h]['right']}/{scores[h]['scored']})" for h in holds) + " |")
    games = report["settings"]["transfer_games"]
    lines += ["", "Transfer per game (share of imagined transitions the judge reads as the demonstrated move; "
              "chance 25%):", "", "| model | " + " | ".join(games) + " |", "|---|" + "---|" * len(games)]
    reference = report["transfer_reference"]
    lines.append("| real target level (reference) | " + " | ".join(
        f"{reference[g]['real_target']:.1%}" for g in games) + " |")
    for name, r in report["models"].items():
        lines.append(f"| {name} | " + " | ".join(f"{r['transfer'][g]:.1%}" for g in games) + " |")
        lines.append(f"| {name}: autoencoded real target (ceiling) | " + " | ".join(
            f"{reference[g]['autoencoded_target'][name]:.1%}" for g in games) + " |")
        lines.append(f"| {name}: control, true / shuffled | " + " | ".join(
            f"{r['control'][g]['true']:.0%} / {r['control'][g]['shuffled']:.0%}" for g in games) + " |")
    lines += per_game_table(report, ("10", "20"))
    if "margins" in report:
        lines += ["", f"Margins over {report['settings']['baseline']} (± standard error; open-loop: bootstrap over "
                  "the clips, transfer: paired over the cases):", "",
                  "| model | " + " | ".join(f"open-loop {h} (dB)" for h in horizons) + " | transfer (points) |",
                  "|---|" + "---|" * (len(horizons) + 1)]
        for name, m in report["margins"].items():
            cells = [f"{m['open_loop_psnr'][str(h)]['dB']:+.2f} ± {m['open_loop_psnr'][str(h)]['se']:.2f}"
                     for h in horizons]
            cells.append(f"{100 * m['transfer']['margin']:+.1f} ± {100 * m['transfer']['se']:.1f}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_game_table(report: dict[str, Any], horizons: tuple[str, ...]) -> list[str]:
    """A markdown table, one row per game, of every model's open-loop PSNR at those of `horizons` the report
    has: where a condition helps and where it hurts, which the pooled numbers hide. The clips come game by
    game, `clips_per_game` each."""
    games, per_game = report["settings"]["games"], report["settings"]["clips_per_game"]
    horizons = tuple(h for h in horizons if int(h) in report["settings"]["horizons"])
    if not horizons:
        return []
    lines = ["", f"Open-loop PSNR per game at {' / '.join(horizons)} steps (dB; each game's clips pooled):", "",
             "| game | " + " | ".join(report["models"]) + " |", "|---|" + "---|" * len(report["models"])]
    for g, game in enumerate(games):
        cells = []
        for result in report["models"].values():
            errors = result["open_loop"]["mse_per_clip"]
            cells.append(" / ".join(f"{psnr_of_mse(float(np.mean(errors[h][g * per_game:(g + 1) * per_game]))):.2f}"
                                    for h in horizons))
        lines.append(f"| {game} | " + " | ".join(cells) + " |")
    return lines


def plot_curves(report: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    has_long = all("long_horizon" in r for r in report["models"].values())
    fig, axes = plt.subplots(1, 3 if has_long else 1, figsize=(15 if has_long else 5, 4), squeeze=False)
    for name, r in report["models"].items():
        curve = r["open_loop"]["psnr_per_step"]
        axes[0, 0].plot(range(1, len(curve) + 1), curve, label=name)
        if has_long:
            lh = r["long_horizon"]
            axes[0, 1].plot(range(1, lh["steps"] + 1), lh["psnr_per_step"], label=name)
            axes[0, 2].plot(range(1, lh["steps"] + 1), lh["histogram_distance_per_step"], label=name)
    axes[0, 0].set(title="open-loop PSNR (test levels)", xlabel="step", ylabel="dB")
    if has_long:
        axes[0, 1].set(title="long horizon PSNR", xlabel="step", ylabel="dB")
        axes[0, 2].set(title="colour histogram distance to real", xlabel="step", ylabel="total variation")
    for ax in axes[0]:
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def write_wm_report(config: WmEvalConfig) -> dict[str, Any]:
    """Evaluate the world models `config` names and write wm_eval.json, wm_eval.md and wm_curves.png to its out."""
    models = {name: WorldModel.from_pretrained(folder) for name, folder in config.folders.items()}
    sampler = SamplerConfig(num_steps=config.denoising_steps, guidance_scale=config.guidance_scale,
                            memory_noise=config.memory_noise)
    report = evaluate_world_models(models, config.games, clips_per_game=config.clips_per_game,
                                   transfer_per_game=config.transfer_per_game, long_steps=config.long_steps,
                                   sampler=sampler, seed=config.seed, judge_cache=config.judge_cache,
                                   baseline=config.baseline)
    report["settings"]["models"] = {name: str(folder) for name, folder in config.folders.items()}
    out = Path(config.out)
    write_json(out / "wm_eval.json", report)
    (out / "wm_eval.md").write_text(markdown_summary(report) + "\n")
    plot_curves(report, out / "wm_curves.png")
    return report
