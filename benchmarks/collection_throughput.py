"""Data throughput: raw Procgen stepping vs our env wrapper, collection to disk, and clips streamed to training.

    python benchmarks/collection_throughput.py [--quick] [--out benchmarks/results]

Everything runs in one process on this machine, one after the other, so the figures are comparable. Writes
`collection_throughput.json` and `collection_throughput.md` to the output folder and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from adaworld_gym.data import ClipDataset, CollectConfig, LiveClipStream, collect
from adaworld_gym.envs import ProcgenRealVectorEnv
from adaworld_gym.envs.procgen_batch import ProcgenGym3Env

GAMES = ["coinrun", "bigfish", "maze", "starpilot"]


def raw_procgen(num: int, steps: int, seed: int) -> float:
    env = ProcgenGym3Env(num=num, env_name="coinrun", distribution_mode="hard", rand_seed=seed)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for _ in range(steps):
        env.act(rng.integers(15, size=num).astype(np.int32))
        env.observe()
    return num * steps / (time.perf_counter() - start)


def vector_env(num: int, steps: int, seed: int) -> float:
    env = ProcgenRealVectorEnv(num, "coinrun")
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for _ in range(steps):
        env.step(rng.integers(15, size=num))
    return num * steps / (time.perf_counter() - start)


def collect_to_disk(out: Path, num_envs: int, frames_per_game: int, seed: int) -> tuple[float, float]:
    start = time.perf_counter()
    store = collect(CollectConfig(out=out, games=GAMES, frames_per_game=frames_per_game, num_envs=num_envs,
                                  seed=seed), progress=False)
    elapsed = time.perf_counter() - start
    size = sum(p.stat().st_size for p in store.episode_paths())
    frames = store.num_steps()
    return frames / elapsed, size / frames


def clips_per_second(dataset, batches: int, workers: int, shuffle: bool) -> float:
    loader = DataLoader(dataset, batch_size=64, shuffle=shuffle, num_workers=workers)
    iterator = iter(loader)
    next(iterator)  # worker start-up is not throughput
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return 64 * batches / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check that the script runs")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    steps, frames_per_game, batches = (20, 300, 3) if args.quick else (1000, 25_000, 100)
    settings = {"seed": args.seed, "quick": args.quick, "games": GAMES, "steps_per_stepping_run": steps,
                "collect_frames_per_game": frames_per_game, "batch_size": 64, "clip_len": 7,
                "batches_per_loader_run": batches, "policy": "held (max hold 16)", "distribution_mode": "hard",
                "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                           f"torch {torch.__version__}"}
    print("settings:", json.dumps(settings))
    rows = []
    for num in (16, 64):
        rows.append({"what": f"raw ProcgenGym3Env(num={num}) stepping", "rate": raw_procgen(num, steps, args.seed),
                     "unit": "frames/s"})
        rows.append({"what": f"ProcgenRealVectorEnv({num}) stepping", "rate": vector_env(num, steps, args.seed),
                     "unit": "frames/s"})
    workdir = Path(tempfile.mkdtemp(prefix="adaworld-bench-"))
    try:
        rate, bytes_per_frame = collect_to_disk(workdir / "data", 16, frames_per_game, args.seed)
        rows.append({"what": f"collect to disk, 16 envs, {len(GAMES)} games ({bytes_per_frame:.0f} B/frame on disk)",
                     "rate": rate, "unit": "frames/s"})
        dataset = ClipDataset(workdir / "data", clip_len=7)
        for workers in (0, 2):
            rows.append({"what": f"disk clips (7 frames), shuffled, {workers} workers",
                         "rate": clips_per_second(dataset, batches, workers, True), "unit": "clips/s"})
        stream = LiveClipStream(GAMES, clip_len=7, num_envs=16, seed=args.seed)
        for workers in (0, 2):
            rows.append({"what": f"live stream clips (7 frames), {workers} workers",
                         "rate": clips_per_second(stream, batches, workers, False), "unit": "clips/s"})
    finally:
        shutil.rmtree(workdir)
    table = ["| measurement | rate |", "|---|---|"]
    table += [f"| {r['what']} | {r['rate']:,.0f} {r['unit']} |" for r in rows]
    markdown = "\n".join(table)
    print(markdown)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "collection_throughput.json").write_text(json.dumps({"settings": settings, "results": rows},
                                                                     indent=2) + "\n")
    (args.out / "collection_throughput.md").write_text(
        f"Settings: {json.dumps(settings)}\n\n{markdown}\n")


if __name__ == "__main__":
    main()
