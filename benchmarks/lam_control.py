"""Does the latent action model's own decoder draw the move its latent says? (the world model's control score,
applied to the latent action model).

    python benchmarks/lam_control.py --model adaworld_gym/weights/lam-cpu
    python benchmarks/lam_control.py --quick      # seconds: one game, a barely trained judge (a smoke test)

For each transfer game: the same inverse-dynamics judge and held-move test clips as `benchmarks/wm_eval.py`
(same seeds, so the same judges and cases), then the judge on the decoder's prediction of every transition from
its real previous frame with (a) the transition's own latent, (b) another clip's latent (a fixed derangement),
(c) the zero latent; the real next frame is the reference. Writes lam_control.json and lam_control.md to --out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from adaworld_gym.evaluation.wm_eval import TRANSFER_GAMES, transfer_setup
from adaworld_gym.io import write_report
from adaworld_gym.models.latent_action import LatentActionModel


@torch.no_grad()
def decoder_control(model: LatentActionModel, judge, frames: torch.Tensor, moves: torch.Tensor) -> dict[str, float]:
    n, length = frames.shape[:2]
    latents = model.encode(frames)  # (N, L-1, D)
    previous, following = frames[:, :-1].flatten(0, 1), frames[:, 1:].flatten(0, 1)
    wanted = moves[:, None].expand(n, length - 1).flatten()
    scores = {"real": float((judge.predict(previous, following) == wanted).float().mean())}
    for name, chosen in (("true", latents), ("shuffled", latents[torch.roll(torch.arange(n), 1)]),
                         ("zero", torch.zeros_like(latents))):
        predicted = (model.decode(previous.to(model.device), chosen.flatten(0, 1)) * 255).round().to(torch.uint8)
        scores[name] = float((judge.predict(previous, predicted.cpu()) == wanted).float().mean())
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("adaworld_gym/weights/lam-cpu"))
    parser.add_argument("--games", default=",".join(TRANSFER_GAMES))
    parser.add_argument("--cases-per-game", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--judge-cache", type=Path, default=None,
                        help="folder to keep the judges in and reuse them from (the same as wm_eval.py's)")
    parser.add_argument("--quick", action="store_true", help="maze only, 8 cases, a 5-step judge")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "lam_control")
    args = parser.parse_args()
    judge_size = {}
    if args.quick:
        args.games, args.cases_per_game, judge_size = "maze", 8, {"judge_transitions": 200, "judge_steps": 5}
    print("settings:", json.dumps({k: str(v) for k, v in vars(args).items()}))
    model = LatentActionModel.from_pretrained(args.model).eval()
    report = {"settings": {k: str(v) for k, v in vars(args).items()}, "games": {}}
    for game in args.games.split(","):
        g = TRANSFER_GAMES.index(game) if game in TRANSFER_GAMES else len(TRANSFER_GAMES)
        judge, _, cases = transfer_setup(game, g, args.cases_per_game, args.seed, judge_cache=args.judge_cache,
                                         **judge_size)
        report["games"][game] = decoder_control(model, judge, cases.target, cases.moves)
        print(game, json.dumps(report["games"][game]), flush=True)
    games = list(report["games"])
    report["mean"] = {k: float(np.mean([report["games"][g][k] for g in games])) for k in ("real", "true", "shuffled",
                                                                                           "zero")}
    lines = ["| | " + " | ".join(games) + " | mean |", "|---|" + "---|" * (len(games) + 1)]
    for key, label in (("real", "judge on the real next frame"), ("true", "decoder, own latent"),
                       ("shuffled", "decoder, another clip's latent"), ("zero", "decoder, zero latent")):
        lines.append(f"| {label} | " + " | ".join(f"{report['games'][g][key]:.1%}" for g in games)
                     + f" | {report['mean'][key]:.1%} |")
    write_report(args.out, "lam_control", report, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
