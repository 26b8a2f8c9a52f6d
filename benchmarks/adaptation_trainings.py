"""Adaptation margins over several trainings of each recipe: one report of benchmarks/adaptation.py per training
(each pretrained model pair trained again, e.g. with another --seed), combined per game and step count.

    python benchmarks/adaptation_trainings.py --leader adaworld-sample --against action-agnostic scratch \
        --report benchmarks/results/adaptation_sample3k_r2 --report benchmarks/results/adaptation_sample3k_s1 \
        --report benchmarks/results/adaptation_sample3k_s2 --report benchmarks/results/adaptation_sample3k_s3 \
        --out benchmarks/results/adaptation_sample3k_trainings

One report's ± covers only the choice of test clips; two trainings of the same recipe can differ by more than
that. Here the standard error also covers the spread between trainings. Reports scored differently (other
clips, steps, sampler, data) are refused. Writes adaptation_trainings.json and .md to --out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from adaworld_gym.evaluation.adaptation_eval import margins_across_trainings, trainings_table
from adaworld_gym.io import read_json, write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", type=Path, action="append", required=True,
                        help="an adaptation benchmark --out folder (one per training); give two or more")
    parser.add_argument("--leader", required=True, help="the method whose margins are reported")
    parser.add_argument("--against", nargs="+", required=True, help="the methods it is compared with")
    parser.add_argument("--horizon", default="10", choices=("10", "20"), help="open-loop steps scored")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if len(args.report) < 2:
        parser.error("give --report two or more times: one report per training")
    print("settings:", json.dumps({**vars(args), "report": list(map(str, args.report)), "out": str(args.out)}))
    reports = [read_json(folder / "adaptation.json", "an adaptation benchmark report") for folder in args.report]
    across = margins_across_trainings(reports, args.leader, tuple(args.against), args.horizon)
    if not across:
        raise SystemExit(f"no game holds {args.leader} and {', '.join(args.against)} in two reports or more")
    table = trainings_table(across, args.leader, args.horizon)
    sources = [f"- {folder}: {', '.join(r['settings']['games'])}" for folder, r in zip(args.report, reports)]
    write_report(args.out, "adaptation_trainings",
                 {"reports": list(map(str, args.report)), "leader": args.leader, "horizon": args.horizon,
                  "margins": across}, table + ["", "Trainings (one report each):", *sources])
    print("\n".join(table))


if __name__ == "__main__":
    main()
