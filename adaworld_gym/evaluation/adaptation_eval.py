"""Adaptation benchmark (AdaWorld section 3 and its Procgen figure): how fast does each pretrained model become a
simulator of a game it never saw, from a few interactions?

For each held-out game and method: build the action table (averaged latent actions, or random rows), fine-tune
on N few-shot transitions per action (training levels), and after 0, 100, 200, ... steps score it two ways. The
lead metric is counterfactual move accuracy (`evaluation/controllability.py`): from saved states of test levels,
each of the four moves held 1 and 3 steps in the real game and in the adapted simulator (the table's rows of
LEFT, DOWN, UP, RIGHT); a move is right when its imagined frame is nearest to its own real outcome (chance 25%).
Beside it, open-loop PSNR/SSIM at 10 and 20 steps of test-level clips rolled out from K real frames with the
clips' real actions.
Methods differ only in the pretrained model and the table's start; "scratch" is the same architecture with a
fresh denoiser (same frozen frame autoencoder) trained only on the few-shot data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch

from adaworld_gym.adaptation.action_map import ActionMap
from adaworld_gym.adaptation.adapt import (FewShotData, few_shot_conditions, finetune, initial_action_map,
                                          limit_per_action, load_few_shot)
from adaworld_gym.adaptation.env_adapt import check_pixel_env, collect_few_shot, make_env
from adaworld_gym.data.branches import Branches, real_branches
from adaworld_gym.data.clips import test_clips
from adaworld_gym.data.episodes import EpisodeStore
from adaworld_gym.data.policies import few_shot_steps
from adaworld_gym.envs.procgen_games import ACTION_SUBSETS
from adaworld_gym.evaluation.controllability import controllability, rollout_moves
from adaworld_gym.evaluation.metrics import bootstrap_margin_se
from adaworld_gym.evaluation.wm_eval import COUNTERFACTUAL_HOLDS, horizon_scores, psnr_margin
from adaworld_gym.io import save_figure
from adaworld_gym.models.diffusion.denoiser import Denoiser
from adaworld_gym.models.diffusion.sampler import SamplerConfig
from adaworld_gym.models.world_model import WorldModel

HELD_OUT_GAMES = ("bigfish", "fruitbot", "ninja", "starpilot")
FINETUNE_STEPS = (0, 100, 200, 400, 800)
HORIZONS = (10, 20)


def run_key(task: str, method: str, per_action: int) -> str:
    """A report's key of one run: "task/method/n" (a task may hold slashes itself, as ALE/Breakout-v5)."""
    return f"{task}/{method}/{per_action}"


def split_run_key(key: str) -> tuple[str, str, int]:
    task, method, n = key.rsplit("/", 2)
    return task, method, int(n)


def find_run(report: dict[str, Any], task: str, method: str, per_action: int) -> dict[str, Any] | None:
    return report["runs"].get(run_key(task, method, per_action))


@dataclass(frozen=True)
class AdaptationMethod:
    name: str
    world_model: str  # a pretrained world model folder
    init: str = "average"  # action table start: "average" (AdaWorld) or "random"
    scratch: bool = False  # re-initialise the denoiser: the model learns the game from the few-shot data alone

    @classmethod
    def parse(cls, spec: str) -> "AdaptationMethod":
        """NAME=FOLDER[:average|random|scratch], e.g. adaworld=runs/wm/model:average."""
        name, _, rest = spec.partition("=")
        folder, _, mode = rest.partition(":")
        if not name or not folder or mode not in ("", "average", "random", "scratch"):
            raise ValueError(f"expected NAME=FOLDER[:average|random|scratch], got {spec!r}")
        return cls(name, folder, "random" if mode in ("random", "scratch") else "average", mode == "scratch")

    def load(self, seed: int, device: str) -> WorldModel:
        world = WorldModel.from_pretrained(self.world_model, device=device)
        if self.scratch:
            torch.manual_seed(seed)
            world.denoiser = Denoiser(world.denoiser.config).to(world.device).eval()
        return world


def open_loop_actions(world: WorldModel, action_map: ActionMap, frames: torch.Tensor, actions: torch.Tensor,
                      horizons: tuple[int, ...], sampler: SamplerConfig, seed: int) -> dict[str, Any]:
    """Roll out from the first K frames with the clips' real actions; PSNR/SSIM at each horizon, and each
    clip's squared error there (for the margins' bootstrap)."""
    k, steps = world.memory, max(horizons)
    future = actions[:, k - 1:k - 1 + steps]
    with torch.no_grad():  # action maps take a batch of actions: (B,) or (B, D)
        conditions = action_map(future.flatten(0, 1).to(world.device)).reshape(len(future), steps, -1)
    imagined = world.rollout(frames[:, :k], conditions, sampler, seed=seed)
    scores = horizon_scores(imagined, frames[:, k:k + steps], horizons, per_clip=True)
    return {key: scores[key] for key in ("psnr", "ssim", "mse_per_clip")}


CEILING_VARIANTS = ("no condition", "one mean row", "averaged table", "true latent actions")


def condition_ceiling(world: WorldModel, data: FewShotData, space: gym.Space, frames: torch.Tensor,
                      actions: torch.Tensor, horizons: tuple[int, ...], sampler: SamplerConfig,
                      seed: int) -> dict[str, dict[str, Any]]:
    """Open-loop scores before fine-tuning, from less to more action information in the condition: zeros; one
    row for every action (the mean latent action of all few-shot transitions); the averaged table (AdaWorld's
    start, a mean per action); and the latent actions of the very transitions being predicted, a ceiling that no
    table of one row per action reaches (they also hold what the action did in that state, and what else
    moved). Says how much of what the world model can take from latent actions the action table passes on."""
    k, steps = world.memory, max(horizons)
    table = initial_action_map(world, data, space, "average", seed)
    seen = torch.nonzero(data.observed).flatten()
    real = frames[:, k - 1:k + steps]  # each predicted transition's (previous, following) frames
    future = actions[:, k - 1:k - 1 + steps].flatten(0, 1).to(world.device)
    with torch.no_grad():
        labels = few_shot_conditions(world, data, seen)
        true = world.condition(real[:, :-1].flatten(0, 1), real[:, 1:].flatten(0, 1)).reshape(len(frames), steps, -1)
        conditions = {"no condition": torch.zeros_like(true),
                      "one mean row": labels.mean(dim=0).expand_as(true).cpu(),
                      "averaged table": table(future).reshape(true.shape).cpu(),
                      "true latent actions": true}
    scores = {}
    for name in CEILING_VARIANTS:
        imagined = world.rollout(frames[:, :k], conditions[name], sampler, seed=seed)
        result = horizon_scores(imagined, frames[:, k:k + steps], horizons)
        scores[name] = {"psnr": result["psnr"], "ssim": result["ssim"]}
    return scores


@dataclass
class AdaptationTask:
    """One environment to adapt to: its action space, few-shot data, and test clips with their actions."""

    name: str
    space: gym.Space
    data: FewShotData
    frames: torch.Tensor  # (C, K + max horizon, 3, H, W) uint8
    actions: torch.Tensor  # (C, K + max horizon - 1, ...) as `actions_to_tensor` gives them
    test_seed: int  # what the test clips were drawn with: a resumed report must score a game on the same clips
    description: str = ""
    branches: Branches | None = None  # saved test states and each move's real outcomes (Procgen)
    moves: tuple[int, ...] = ()  # the actions of LEFT, DOWN, UP, RIGHT in `space`, with `branches`


def counterfactual_moves(world: WorldModel, action_map: ActionMap, branches: Branches, moves: tuple[int, ...],
                         sampler: SamplerConfig, seed: int) -> dict[str, dict]:
    """Counterfactual move accuracy of the adapted simulator: each move's action (`moves`: the actions of
    LEFT, DOWN, UP, RIGHT in the task's space) held from every saved state, scored against the real outcomes."""
    hold = branches.outcomes.shape[2]
    with torch.no_grad():
        rows = action_map(torch.tensor(moves, device=world.device)).cpu()  # (4, D)
    conditions = rows[None, :, None].expand(branches.context.shape[0], -1, hold, -1)
    return controllability(branches, rollout_moves(world, branches, conditions, sampler, seed),
                           COUNTERFACTUAL_HOLDS)


def adapt_and_score(method: AdaptationMethod, task: AdaptationTask, data: FewShotData, steps: tuple[int, ...],
                    batch_size: int, lr: float, scratch_lr: float, sampler: SamplerConfig, seed: int, device: str,
                    progress: bool) -> dict[str, Any]:
    """Scores of one method on one task after each number of fine-tuning steps: open loop, and counterfactual
    moves where the task has branches."""
    world = method.load(seed, device)
    action_map = initial_action_map(world, data, task.space, method.init, seed)
    scores: dict[str, Any] = {}

    def evaluate(step: int) -> None:
        scores[str(step)] = open_loop_actions(world, action_map, task.frames, task.actions, HORIZONS, sampler, seed)
        if task.branches is not None:
            scores[str(step)]["counterfactual"] = counterfactual_moves(world, action_map, task.branches,
                                                                       task.moves, sampler, seed)

    finetune(world, action_map, data, max(steps), batch_size, scratch_lr if method.scratch else lr, seed,
             progress, evaluate=evaluate, evaluate_at=steps)
    return scores


def procgen_task(dataset: str | Path, game: str, memory: int, clips: int, seed: int,
                 counterfactual_states: int = 16) -> AdaptationTask:
    """Few-shot data of `game` from a dataset (all 15 actions, as the test clips are played with them),
    held-random test-level clips, and `counterfactual_states` saved test states with every move's outcome."""
    data = load_few_shot(dataset, game, 15)
    frames, actions = test_clips([game], clips, memory + max(HORIZONS), seed)
    branches = real_branches(game, counterfactual_states, memory, max(COUNTERFACTUAL_HOLDS), seed) \
        if counterfactual_states else None
    return AdaptationTask(game, gym.spaces.Discrete(15), data, frames, actions, seed,
                          f"few-shot: training levels, policy {EpisodeStore(dataset).info.policy}; test: levels "
                          "0-999, held-random play", branches, ACTION_SUBSETS["moves"])


def env_task(env_id: str, env_kwargs: dict[str, Any], samples_per_action: int, memory: int, clips: int,
             seed: int, obs_key: str | None = None) -> AdaptationTask:
    """Few-shot data of a Gymnasium env (held-random actions, seed `seed`) and test clips cut from other
    episodes played the same way (seed `seed + 10_000`); `obs_key`: the image entry of Dict observations."""
    env = make_env(env_id, env_kwargs, obs_key)
    try:
        check_pixel_env(env, env_id)
        data, _ = collect_few_shot(env, samples_per_action, seed=seed, progress=False)
        length = memory + max(HORIZONS)
        # Twice the frames the clips need: episode ends leave pieces shorter than a clip.
        per_action = -(-2 * clips * length // few_shot_steps(env.action_space, 1))
        test, _ = collect_few_shot(env, per_action, seed=seed + 10_000, progress=False)
    finally:
        env.close()
    picked = [(e, s) for e, f in enumerate(test.frames) for s in range(0, len(f) - length + 1, length)][:clips]
    if len(picked) < clips:
        raise ValueError(f"{env_id}: episodes too short for {clips} test clips of {length} frames")
    first = [int(torch.nonzero(test.episode == e)[0]) for e, _ in picked]
    frames = torch.stack([test.frames[e][s:s + length] for e, s in picked])
    actions = torch.stack([test.actions[i + s:i + s + length - 1] for i, (_, s) in zip(first, picked)])
    return AdaptationTask(env_id, env.action_space, data, frames, actions, seed,
                          f"few-shot and test: held-random actions, seeds {seed} and {seed + 10_000}")


def run_adaptation_benchmark(methods: list[AdaptationMethod], tasks: list[AdaptationTask], per_action: int,
                             data_methods: tuple[str, ...] = (), data_sizes: tuple[int, ...] = (),
                             steps: tuple[int, ...] = FINETUNE_STEPS, batch_size: int = 32, lr: float = 1e-4,
                             scratch_lr: float = 3e-4, sampler: SamplerConfig | None = None, seed: int = 0,
                             device: str = "cpu", progress: bool = True,
                             report: dict[str, Any] | None = None, save=None) -> dict[str, Any]:
    """Every method on every task with its few-shot data (`per_action` transitions per action), and the
    `data_methods` again with the first `data_sizes` transitions of each action (discrete spaces only).
    Results accumulate in `report` (pass a loaded one to skip runs already done), and `save(report)` is called
    after each run, so an interrupted benchmark resumes where it stopped."""
    sampler = sampler or SamplerConfig()
    say = print if progress else (lambda *a: None)
    report = report or {}
    scoring = {"steps": list(steps), "clips": len(tasks[0].frames),
               "counterfactual_states": len(tasks[0].branches.context) if tasks[0].branches is not None else 0,
               "batch_size": batch_size, "lr": lr,
               "scratch_lr": scratch_lr, "sampler": asdict(sampler), "seed": seed, "horizons": list(HORIZONS)}
    before = report.get("settings", {})
    # Resuming adds runs to a report only if they are scored as its earlier ones were.
    done = [split_run_key(key) for key in report.get("runs", {})]
    ran, done_tasks = {method for _, method, _ in done}, {task for task, _, _ in done}
    earlier = {m["name"]: m for m in before.get("methods", [])}
    changed = [f"{k}: {before[k]} there, {v} now" for k, v in scoring.items() if ran and before.get(k, v) != v]
    changed += [f"method {m.name}: {earlier[m.name]} there, {asdict(m)} now" for m in methods
                if m.name in ran and earlier.get(m.name, asdict(m)) != asdict(m)]
    if changed:
        raise ValueError(f"the report's runs were made with other settings ({'; '.join(changed)}): write to "
                         "another --out")
    test_seeds = report.setdefault("test_seeds", {})
    for task in tasks:
        if task.name in done_tasks and test_seeds.get(task.name, task.test_seed) != task.test_seed:
            raise ValueError(f"{task.name}: the report's runs were scored on test clips of seed "
                             f"{test_seeds[task.name]}, this run draws them with seed {task.test_seed} (a Procgen "
                             "game's clips use --seed plus its position in --games): list the games as before, "
                             "or write to another --out")
    # A resumed report keeps describing the games and methods of its earlier runs too.
    named = earlier | {m.name: asdict(m) for m in methods}
    report["settings"] = {"methods": list(named.values()),
                          "games": list(dict.fromkeys(before.get("games", []) + [t.name for t in tasks])),
                          "per_action": per_action, "data_methods": list(data_methods),
                          "data_sizes": list(data_sizes), **scoring,
                          "data": before.get("data", {}) | {t.name: t.description for t in tasks}}
    test_seeds.update({task.name: task.test_seed for task in tasks})
    runs, transitions = report.setdefault("runs", {}), report.setdefault("transitions", {})
    for task in tasks:
        jobs = [(m, per_action) for m in methods]
        if isinstance(task.space, gym.spaces.Discrete):
            jobs += [(m, n) for m in methods if m.name in data_methods for n in data_sizes if n != per_action]
        for method, n in jobs:
            key = run_key(task.name, method.name, n)
            if key in runs:
                continue
            # A Procgen dataset may hold more than `per_action` transitions per action: take the first n.
            data = limit_per_action(task.data, n) if isinstance(task.space, gym.spaces.Discrete) else task.data
            runs[key] = adapt_and_score(method, task, data, steps, batch_size, lr, scratch_lr, sampler, seed,
                                        device, progress)
            transitions[key] = int(data.observed.sum())  # what the world model was fine-tuned on
            say(f"{key}: " + ", ".join(f"{s}: {_accuracy_cell(v, '3')} {v['psnr']['10']:.2f}/{v['psnr']['20']:.2f} dB"
                                       for s, v in runs[key].items()))
            if save is not None:
                save(report)
    return report


def _accuracy_cell(scores: dict[str, Any], hold: str) -> str:
    """"right/scored (accuracy)" of one run's counterfactual moves held `hold` steps, "-" without them."""
    counts = scores.get("counterfactual", {}).get(hold)
    if not counts or not counts["scored"]:
        return "-"
    return f"{counts['accuracy']:.0%} ({counts['right']}/{counts['scored']})"


def markdown_tables(report: dict[str, Any]) -> str:
    """Counterfactual move accuracy (the lead metric, where scored) and open-loop PSNR at 10 / 20 steps per game
    and method vs fine-tuning steps, then the data-size table."""
    s = report["settings"]
    steps, n = s["steps"], s["per_action"]
    header = ["game", "method"] + [f"{k} steps" for k in steps]
    lines = []
    if s.get("counterfactual_states"):
        lines += [f"Counterfactual move accuracy, each move held 3 steps from {s['counterfactual_states']} saved "
                  f"test states per game (chance 25%), {n} transitions per action:", "",
                  "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        pooled_counts: dict[str, dict[str, list[int]]] = {}
        for game in s["games"]:
            for m in s["methods"]:
                run = find_run(report, game, m["name"], n)
                if run:
                    lines.append(f"| {game} | {m['name']} | "
                                 + " | ".join(_accuracy_cell(run[str(k)], "3") for k in steps) + " |")
                    for k in steps:
                        counts = run[str(k)].get("counterfactual", {}).get("3", {"right": 0, "scored": 0})
                        total = pooled_counts.setdefault(m["name"], {}).setdefault(str(k), [0, 0])
                        total[0], total[1] = total[0] + counts["right"], total[1] + counts["scored"]
        for name, per_step in pooled_counts.items():
            lines.append(f"| **all games** | {name} | " + " | ".join(
                f"{r / t:.0%} ({r}/{t})" if t else "-" for r, t in per_step.values()) + " |")
        lines.append("")
    lines += [f"Open-loop PSNR at 10 / 20 steps (dB), {n} transitions per action:", "",
              "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for game in s["games"]:
        for m in s["methods"]:
            run = find_run(report, game, m["name"], n)
            if run:
                lines.append(f"| {game} | {m['name']} | " + " | ".join(
                    f"{run[str(k)]['psnr']['10']:.2f} / {run[str(k)]['psnr']['20']:.2f}" for k in steps) + " |")
    if s["data_methods"] and s["data_sizes"]:
        last = steps[-1]
        sizes = sorted(set(s["data_sizes"]) | {n})
        lines += ["", f"Data size: open-loop PSNR at 10 / 20 steps after {last} fine-tuning steps:", "",
                  "| game | method | " + " | ".join(f"{k}/action" for k in sizes) + " |",
                  "|---|---|" + "---|" * len(sizes)]
        for game in s["games"]:
            for name in s["data_methods"]:
                cells = []
                for k in sizes:
                    run = find_run(report, game, name, k)
                    cells.append(f"{run[str(last)]['psnr']['10']:.2f} / {run[str(last)]['psnr']['20']:.2f}"
                                 if run else "-")
                lines.append(f"| {game} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_curves(report: dict[str, Any], path: Path, horizon: str = "10") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = report["settings"]
    games = s["games"]
    fig, axes = plt.subplots(1, len(games), figsize=(4 * len(games), 3.5), squeeze=False)
    for ax, game in zip(axes[0], games):
        for m in s["methods"]:
            run = find_run(report, game, m["name"], s["per_action"])
            if run:
                ax.plot(s["steps"], [run[str(k)]["psnr"][horizon] for k in s["steps"]], marker="o", label=m["name"])
        ax.set(title=f"{game}: open-loop PSNR at {horizon} steps", xlabel="fine-tuning steps", ylabel="dB")
        ax.legend(fontsize=7)
    return save_figure(fig, path)


def margins(report: dict[str, Any], leader: str, others: tuple[str, ...], horizon: str = "10") -> dict[str, Any]:
    """PSNR margin of `leader` over each of `others` (positive: leader ahead), per game, at every step count,
    with its bootstrap standard error over the test clips (None for runs stored without per-clip errors)."""
    s = report["settings"]
    out: dict[str, Any] = {}
    for game in s["games"]:
        lead = find_run(report, game, leader, s["per_action"])
        for other in others:
            run = find_run(report, game, other, s["per_action"])
            if not (lead and run):
                continue
            out.setdefault(game, {})[other] = {k: psnr_margin(lead[k], run[k], horizon) for k in map(str, s["steps"])}
    return out


def _margin_rows(margins_of: dict[str, Any], cell: Callable[[dict[str, Any]], str]) -> list[str]:
    """A markdown table of margins, one row per game and rival, one `cell(margin)` per fine-tuning step count."""
    steps = list(next(iter(next(iter(margins_of.values())).values())))
    lines = ["| game | minus | " + " | ".join(f"{k} steps" for k in steps) + " |", "|---|---|" + "---|" * len(steps)]
    for game, rivals in margins_of.items():
        for other, cells in rivals.items():
            lines.append(f"| {game} | {other} | " + " | ".join(map(cell, cells.values())) + " |")
    return lines


def margins_table(margins_of: dict[str, Any], leader: str, horizon: str = "10") -> list[str]:
    """Markdown rows of `margins`: one per game and rival, 'margin ± se' per fine-tuning step count."""
    return [f"{leader} minus each method, open-loop PSNR at {horizon} steps (dB, ± bootstrap standard error over "
            "the test clips):", "", *_margin_rows(margins_of, lambda c: f"{c['dB']:+.2f}" + (
                f" ± {c['se']:.2f}" if c["se"] is not None else ""))]


def report_test_seeds(report: dict[str, Any]) -> dict[str, int]:
    """Each game's test-clip seed; reports made before they were stored drew them, as the benchmark always has,
    with the seed plus the game's position in its games."""
    s = report["settings"]
    return report.get("test_seeds") or {game: s["seed"] + g for g, game in enumerate(s["games"])}


def margins_across_trainings(reports: list[dict[str, Any]], leader: str, others: tuple[str, ...],
                             horizon: str = "10") -> dict[str, Any]:
    """The margins of `margins` for recipes trained several times: each report holds one training of every
    method, all scored the same way on the same test clips. Per game (held by two reports or more), rival and
    fine-tuning step count: each training's margin, their mean, how many trainings the leader leads in, and a
    standard error of the mean that adds the spread between trainings (their sample variance over N) to the clip
    resampling error (the clips are shared, so that spread does not contain it)."""
    first = reports[0]["settings"]
    kept = ("methods", "games", "data", "data_methods", "data_sizes")
    for report in reports[1:]:
        keys = sorted((set(first) | set(report["settings"])) - set(kept))
        changed = [k for k in keys if report["settings"].get(k) != first.get(k)]
        if changed:
            raise ValueError(f"the reports were scored differently ({', '.join(changed)}): margins of different "
                             "scorings do not combine")
    n, steps = first["per_action"], list(map(str, first["steps"]))
    out: dict[str, Any] = {}
    for game in dict.fromkeys(g for r in reports for g in r["settings"]["games"]):
        held = [r for r in reports if all(find_run(r, game, m, n) is not None for m in (leader, *others))]
        if len(held) < 2:
            continue
        seeds = {report_test_seeds(r)[game] for r in held}
        descriptions = {r["settings"]["data"][game] for r in held}
        if len(seeds) > 1 or len(descriptions) > 1:
            raise ValueError(f"{game}: the reports scored it on different test clips or data ({sorted(seeds)}, "
                             f"{sorted(descriptions)})")
        leads = [find_run(r, game, leader, n) for r in held]
        if any(a == b for i, a in enumerate(leads) for b in leads[i + 1:]):
            raise ValueError(f"{game}: two reports hold the very same {leader} runs, one training counted twice")
        for other in others:
            rivals = [find_run(r, game, other, n) for r in held]
            cells = {}
            for k in steps:
                per_training = [a[k]["psnr"][horizon] - b[k]["psnr"][horizon] for a, b in zip(leads, rivals)]
                between_variance = float(np.var(per_training, ddof=1) / len(per_training))
                clips = bootstrap_margin_se([a[k]["mse_per_clip"][horizon] for a in leads],
                                            [b[k]["mse_per_clip"][horizon] for b in rivals])
                cells[k] = {"per_training": per_training, "dB": float(np.mean(per_training)),
                            "se": float(np.sqrt(between_variance + clips ** 2)),
                            "se_between_trainings": between_variance ** 0.5,
                            "se_clips": clips, "ahead_in": sum(m > 0 for m in per_training)}
            out.setdefault(game, {})[other] = cells
    return out


def trainings_table(across: dict[str, Any], leader: str, horizon: str = "10") -> list[str]:
    """Markdown rows of `margins_across_trainings`: 'mean ± se (trainings ahead / trainings)' per step count."""
    return [f"{leader} minus each method, open-loop PSNR at {horizon} steps (dB): mean over trainings ± standard "
            "error (spread between trainings and test clips), then trainings with the lead / trainings:", "",
            *_margin_rows(across, lambda c: f"{c['dB']:+.2f} ± {c['se']:.2f} ({c['ahead_in']}/"
                                            f"{len(c['per_training'])})")]
