"""How good are the latent actions? Measured on test levels (0-999), never on training data.

- action information: linear-probe and k-NN accuracy from latent action to the true action, per game, for the
  4 moves plus no-op and for all 15 actions (probe fitted on half of the levels, scored on the other half);
- context invariance: a probe fitted on some games and scored on the others (same 5 labels), and a 2-D map
  of latents coloured by action and by game;
- controllability (Genie's delta-PSNR): PSNR of the decoder's prediction with the inferred latent minus with
  the latent of a random other transition; also for k-means control options (the paper's Table 9);
- reconstruction PSNR of f_t+1, next to the PSNR of simply copying f_t.
All PSNRs are of the mean squared error over the whole set of pairs (pixels in [0, 1]).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from adaworld_gym.data.policies import UniformRandomPolicy
from adaworld_gym.envs.procgen_batch import ProcgenBatch
from adaworld_gym.envs.procgen_games import PROCGEN_ACTION_NAMES, TEST_LEVELS
from adaworld_gym.evaluation.configs import LamEvalConfig
from adaworld_gym.io import save_figure, write_json
from adaworld_gym.models.latent_action import LatentActionModel, control_options

MOVES_NOOP = (1, 3, 5, 7, 4)  # LEFT, DOWN, UP, RIGHT, NOOP in Procgen's 15 combos


@dataclass
class Transitions:
    """Frame pairs from the real games with their true actions, levels and games."""

    pairs: np.ndarray  # (N, 2, 3, 64, 64) uint8
    actions: np.ndarray  # (N,) combo index 0-14
    levels: np.ndarray  # (N,)
    games: np.ndarray  # (N,) index into the game list
    # True where the next frame after the taken move differs from the next frame after each of the other
    # moves+noop (checked in the real game by save/restore): the move is visible in the pair. False for the
    # other 10 actions.
    visible: np.ndarray  # (N,) bool

    def take(self, index: np.ndarray) -> "Transitions":
        """The transitions at `index`."""
        return Transitions(self.pairs[index], self.actions[index], self.levels[index], self.games[index],
                           self.visible[index])


def _visible_moves(batch: ProcgenBatch, actions: np.ndarray) -> np.ndarray:
    """Which envs' move (one of MOVES_NOOP) gives a next frame that no other of those moves gives."""
    state = batch.get_state()
    outcomes = {}
    for move in MOVES_NOOP:
        batch.set_state(state)
        outcomes[move] = batch.step(np.full(batch.num, move)).obs.copy()
    batch.set_state(state)
    visible = np.zeros(batch.num, dtype=bool)
    for i, a in enumerate(actions):
        if a in outcomes:
            visible[i] = all(not np.array_equal(outcomes[a][i], outcomes[m][i]) for m in MOVES_NOOP if m != a)
    return visible


def test_transitions(games: list[str], per_game: int, seed: int = 0, num_envs: int = 16) -> Transitions:
    """`per_game` transitions of each game on test levels under uniform random actions (episode ends left out,
    since Procgen never shows their next frame)."""
    pairs, actions, levels, game_ids, visible = [], [], [], [], []
    for g, game in enumerate(games):
        batch = ProcgenBatch(game, num_envs, start_level=TEST_LEVELS[0], num_levels=TEST_LEVELS[1],
                             seed=seed + 101 * g)
        policy = UniformRandomPolicy(15, num_envs, seed + 101 * g)
        got = 0
        while got < per_game:
            before, level = batch.obs, batch.levels()
            act = policy(before, np.zeros(num_envs, dtype=bool))
            seen = _visible_moves(batch, act)
            step = batch.step(act)
            keep = ~(step.terminated | step.truncated)
            keep[np.flatnonzero(keep)[per_game - got:]] = False
            pairs.append(np.stack([before[keep], step.obs[keep]], axis=1))
            actions.append(act[keep])
            levels.append(level[keep])
            game_ids.append(np.full(int(keep.sum()), g))
            visible.append(seen[keep])
            got += int(keep.sum())
    stacked = np.concatenate(pairs).transpose(0, 1, 4, 2, 3)
    return Transitions(np.ascontiguousarray(stacked), np.concatenate(actions), np.concatenate(levels),
                       np.concatenate(game_ids), np.concatenate(visible))


@torch.no_grad()
def encode_transitions(model: LatentActionModel, data: Transitions, batch_size: int = 256
                       ) -> tuple[np.ndarray, float | None]:
    """Deterministic latent actions (N, latent_dim) of `data`, and their mean KL from the prior in nats (how much
    the bottleneck lets through, what beta trades against; None for a VQ model), in one encoder pass."""
    gaussian = model.config.quantizer == "gaussian"
    means, kl_total = [], 0.0
    for chunk in torch.from_numpy(data.pairs).split(batch_size):
        _, mean, terms = model.encode_pairs(chunk.to(model.device))
        means.append(mean.cpu())
        if gaussian:
            kl_total += float(terms["kl"]) * len(chunk)
    return torch.cat(means).numpy(), kl_total / len(data.pairs) if gaussian else None


def _probe_scores(x_train, y_train, x_test, y_test) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(np.unique(y_train)) < 2 or len(y_test) == 0:
        return {"probe": float("nan"), "knn": float("nan"), "n_test": int(len(y_test))}
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x_train, y_train)
    knn = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=min(5, len(y_train)))).fit(x_train, y_train)
    return {"probe": float(probe.score(x_test, y_test)), "knn": float(knn.score(x_test, y_test)),
            "n_test": int(len(y_test))}


def action_information(latents: np.ndarray, data: Transitions, games: list[str]) -> dict[str, Any]:
    """Per-game probe and k-NN accuracy (fit on even levels, score on odd ones), moves+noop and all 15; the
    cross-game probe of each game's visible moves (fit on the visible moves of all the other games); and the
    cross-game probe over halves (fit on half of the games, score on the other half, and the reverse)."""
    per_game = {}
    held_out = data.levels % 2 == 1
    moves = np.isin(data.actions, MOVES_NOOP)
    seen = data.visible
    for g, game in enumerate(games):
        mine = data.games == g
        per_game[game] = {
            "moves_noop": _probe_scores(latents[mine & ~held_out & moves], data.actions[mine & ~held_out & moves],
                                        latents[mine & held_out & moves], data.actions[mine & held_out & moves]),
            "all15": _probe_scores(latents[mine & ~held_out], data.actions[mine & ~held_out],
                                   latents[mine & held_out], data.actions[mine & held_out]),
            "moves_noop_visible": _probe_scores(
                latents[mine & ~held_out & seen], data.actions[mine & ~held_out & seen],
                latents[mine & held_out & seen], data.actions[mine & held_out & seen]),
            "visible_fraction": float(seen[mine & moves].mean()) if (mine & moves).any() else float("nan"),
            # Context invariance where it can be read per game: does "left" elsewhere mean "left" here?
            "moves_noop_visible_other_games": _probe_scores(latents[seen & ~mine], data.actions[seen & ~mine],
                                                            latents[seen & mine], data.actions[seen & mine]),
        }
    first = np.isin(data.games, np.arange(0, len(games), 2))  # even-indexed games vs odd-indexed games
    cross = [_probe_scores(latents[moves & a], data.actions[moves & a], latents[moves & ~a], data.actions[moves & ~a])
             for a in (first, ~first)]
    cross_visible = [_probe_scores(latents[seen & a], data.actions[seen & a], latents[seen & ~a], data.actions[seen & ~a])
                     for a in (first, ~first)]
    return {"per_game": per_game,
            "cross_game_moves_noop": {"probe": float(np.mean([c["probe"] for c in cross])),
                                      "knn": float(np.mean([c["knn"] for c in cross])),
                                      "train_games_a": games[0::2], "train_games_b": games[1::2]},
            "cross_game_moves_noop_visible": {"probe": float(np.mean([c["probe"] for c in cross_visible])),
                                              "knn": float(np.mean([c["knn"] for c in cross_visible]))},
            "chance_moves_noop": 1 / len(MOVES_NOOP), "chance_all15": 1 / 15}


def _squared_errors(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (prediction - target).pow(2).flatten(1).mean(dim=1)


def _psnr(squared_errors: torch.Tensor) -> float:
    """PSNR of the mean squared error over a set of frames. Averaging per-frame PSNR instead would let the
    many identical Procgen frame pairs (infinite PSNR for copying f_t) swamp the figure."""
    return float(-10 * torch.log10(squared_errors.mean().clamp_min(1e-10)))


@torch.no_grad()
def controllability(model: LatentActionModel, data: Transitions, latents: np.ndarray, ks: tuple[int, ...],
                    games: list[str], seed: int = 0, batch_size: int = 256) -> dict[str, Any]:
    """Reconstruction PSNR (also per game, next to copying f_t: where the decoder is worse than the copy, a world
    model's next-frame hint misleads), delta-PSNR against random latents, and delta-PSNR of k-means control
    options."""
    rng = np.random.default_rng(seed)
    frames = torch.from_numpy(data.pairs).float() / 255.0
    z = torch.from_numpy(latents).float()
    shuffled = z[torch.from_numpy(rng.permutation(len(z)))]

    def errors_with(condition: torch.Tensor) -> torch.Tensor:
        return torch.cat([_squared_errors(model.decode(f[:, 0].to(model.device), c.to(model.device)).cpu(), f[:, 1])
                          for f, c in zip(frames.split(batch_size), condition.split(batch_size))])

    errors, copy_errors = errors_with(z), _squared_errors(frames[:, 0], frames[:, 1])
    inferred = _psnr(errors)
    in_game = {game: torch.from_numpy(data.games == g) for g, game in enumerate(games) if (data.games == g).any()}
    result: dict[str, Any] = {
        "reconstruction_psnr": inferred,
        "copy_last_frame_psnr": _psnr(copy_errors),
        "per_game": {game: {"reconstruction_psnr": _psnr(errors[mask]),
                            "copy_last_frame_psnr": _psnr(copy_errors[mask])} for game, mask in in_game.items()},
        "delta_psnr": inferred - _psnr(errors_with(shuffled)),
        "control_options": {},
    }
    for k in ks:
        centres = torch.from_numpy(control_options(latents, k, seed)).float()
        nearest = torch.cdist(z, centres).argmin(dim=1)
        random_option = torch.from_numpy(rng.integers(k, size=len(z)))
        gap = _psnr(errors_with(centres[nearest])) - _psnr(errors_with(centres[random_option]))
        result["control_options"][str(k)] = gap
    return result


def latent_map(latents: np.ndarray, data: Transitions, games: list[str], path: Path, seed: int = 0,
               max_points: int = 3000) -> Path:
    """2-D t-SNE of the latents of the 4 moves + no-op, coloured by true action (left) and by game (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    keep = np.flatnonzero(np.isin(data.actions, MOVES_NOOP))
    keep = np.random.default_rng(seed).permutation(keep)[:max_points]
    xy = TSNE(n_components=2, random_state=seed, init="pca", perplexity=30).fit_transform(latents[keep])
    fig, axes = plt.subplots(1, 2, figsize=(13, 6))
    for ax, labels, names, title in (
            (axes[0], data.actions[keep], {a: PROCGEN_ACTION_NAMES[a] for a in MOVES_NOOP}, "coloured by true action"),
            (axes[1], data.games[keep], dict(enumerate(games)), "coloured by game")):
        cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
        for i, (value, name) in enumerate(names.items()):
            sel = labels == value
            ax.scatter(xy[sel, 0], xy[sel, 1], s=4, color=cmap(i % cmap.N), label=name)
        ax.set_title(f"latent actions (t-SNE), {title}")
        ax.legend(markerscale=3, fontsize=7, loc="best")
        ax.set_xticks([])
        ax.set_yticks([])
    return save_figure(fig, path)


def evaluate_lam(model: LatentActionModel, games: list[str], per_game: int = 2400, ks: tuple[int, ...] = (4, 8, 12),
                 seed: int = 0, map_path: Path | None = None, controllability_pairs: int = 2048,
                 data: Transitions | None = None) -> dict[str, Any]:
    """All of the above for one model; returns a JSON-ready dict. Controllability decodes every pair once per
    latent it tries (2 + 2 per k), so it runs on a seeded random subset of `controllability_pairs` pairs.
    `data`: the `test_transitions(games, per_game, seed)` to score, when several models share them."""
    if data is None:
        data = test_transitions(games, per_game, seed)
    latents, kl = encode_transitions(model, data)
    subset = np.sort(np.random.default_rng(seed).permutation(len(latents))[:controllability_pairs])
    report = {"settings": {"games": games, "pairs_per_game": per_game, "seed": seed, "ks": list(ks),
                           "controllability_pairs": int(len(subset)), "levels": "test (0-999)",
                           "policy": "uniform random"},
              "model": getattr(model, "metadata", {}),
              "action_information": action_information(latents, data, games),
              "controllability": controllability(model, data.take(subset), latents[subset], ks, games, seed)}
    if model.config.quantizer == "vq":
        report["code_usage"] = code_usage(latents)
    else:
        report["latent_kl_nats"] = kl
    if map_path is not None:
        report["map"] = str(latent_map(latents, data, games, map_path, seed))
    return report


def code_usage(latents: np.ndarray) -> dict[str, Any]:
    """How many codes a discrete model gives the test transitions, and the largest one's share: the collapse
    check (a model that puts every transition on one code is an action-agnostic model in disguise)."""
    _, counts = np.unique(latents, axis=0, return_counts=True)
    return {"codes_used": int(len(counts)), "largest_share": float(counts.max() / counts.sum())}


def markdown_summary(report: dict[str, Any]) -> str:
    """Per-game table of probe/k-NN accuracies plus the headline numbers."""
    info, ctrl = report["action_information"], report["controllability"]
    lines = ["| game | probe moves+noop | k-NN moves+noop | moves visible | probe visible moves (test moves) | "
             "the same, probe fit on the other games | probe all 15 | k-NN all 15 | "
             "f_t+1 PSNR: decoder / copying f_t |",
             "|---|---|---|---|---|---|---|---|---|"]
    for game, s in info["per_game"].items():
        psnr = ctrl.get("per_game", {}).get(game)  # reports written before it have no per-game PSNR
        lines.append(f"| {game} | {s['moves_noop']['probe']:.1%} | {s['moves_noop']['knn']:.1%} | "
                     f"{s['visible_fraction']:.0%} | {s['moves_noop_visible']['probe']:.1%} "
                     f"({s['moves_noop_visible']['n_test']}) | {s['moves_noop_visible_other_games']['probe']:.1%} | "
                     f"{s['all15']['probe']:.1%} | {s['all15']['knn']:.1%} | " +
                     (f"{psnr['reconstruction_psnr']:.2f} / {psnr['copy_last_frame_psnr']:.2f} |" if psnr else "- |"))
    mean = lambda key, sub: np.nanmean([s[key][sub] for s in info["per_game"].values()])
    visible = np.nanmean([s["visible_fraction"] for s in info["per_game"].values()])
    lines.append(f"| **mean** | {mean('moves_noop', 'probe'):.1%} | {mean('moves_noop', 'knn'):.1%} | {visible:.0%} | "
                 f"{mean('moves_noop_visible', 'probe'):.1%} | {mean('moves_noop_visible_other_games', 'probe'):.1%} | "
                 f"{mean('all15', 'probe'):.1%} | {mean('all15', 'knn'):.1%} | "
                 f"{ctrl['reconstruction_psnr']:.2f} / {ctrl['copy_last_frame_psnr']:.2f} |")
    cross = info["cross_game_moves_noop"]
    options = ", ".join(f"k={k}: {v:+.2f} dB" for k, v in ctrl["control_options"].items())
    lines += ["", f"- chance: {info['chance_moves_noop']:.0%} (moves+noop), {info['chance_all15']:.1%} (all 15)",
              "- 'probe fit on the other games': a probe fitted on the visible moves of the other games, scored on "
              "this game's (visible moves of all its test levels)",
              f"- cross-game probe (fit on half of the games, scored on the others), moves+noop: "
              f"{cross['probe']:.1%} (k-NN {cross['knn']:.1%}); on visible moves only "
              f"{info['cross_game_moves_noop_visible']['probe']:.1%}",
              "- 'moves visible': share of moves+noop transitions whose next frame differs from that of every other "
              "move (checked in the real game by save/restore); the probe on those is the fair test",
              f"- reconstruction PSNR of f_t+1: {ctrl['reconstruction_psnr']:.2f} dB "
              f"(copying f_t: {ctrl['copy_last_frame_psnr']:.2f} dB)",
              f"- delta-PSNR (inferred vs random latent): {ctrl['delta_psnr']:+.2f} dB",
              *([f"- KL of the latent actions from the prior: {report['latent_kl_nats']:.2f} nats"]
                if "latent_kl_nats" in report else []),
              f"- delta-PSNR of k-means control options: {options}"]
    if "code_usage" in report:
        usage = report["code_usage"]
        lines.append(f"- VQ codes used on the test transitions: {usage['codes_used']} "
                     f"(the most common holds {usage['largest_share']:.0%})")
    return "\n".join(lines)


def write_lam_report(config: LamEvalConfig) -> dict[str, Any]:
    """Evaluate the model `config` names; write `lam_eval.json`, `lam_eval.md` and `lam_map.png` to its out."""
    model = LatentActionModel.from_pretrained(config.model)
    out = Path(config.out)
    report = evaluate_lam(model, config.games, config.pairs_per_game, tuple(config.ks), config.seed,
                          out / "lam_map.png", config.controllability_pairs)
    write_json(out / "lam_eval.json", report)
    (out / "lam_eval.md").write_text(f"Model: `{config.model}` ({json.dumps(report['model'])})\n"
                                     f"Settings: {json.dumps(report['settings'])}\n\n{markdown_summary(report)}\n")
    return report
