"""Planning scenes (the paper's Procgen planning benchmark, `../shared/docs/planning-protocol.md`).

A scene is a test level's start state plus its goal: the last frame the real game shows before it restarts
with a positive reward. The finder searches the real game breadth-first over the four moves with state
save/restore, deduplicating states by their frame, and keeps levels whose goal is reachable within the step
limit, with a shortest solution. Levels solved in fewer than `min_steps` moves are skipped: in easy-mode Jumper
a level can end rewarded on the first LEFT with the frame unchanged, a goal equal to the start that no planner
needs to plan for. A scene set is saved as `scenes.json` (levels, solutions, settings) and
`scenes.npz` (start and goal frames, the saved game states), both written atomically.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from adaworld_gym.envs.procgen_batch import ProcgenBatchState
from adaworld_gym.envs.procgen_real import ProcgenEnvState, ProcgenRealEnv
from adaworld_gym.io import atomic_path, read_json, write_json
from adaworld_gym.version import __version__

PLANNING_GAMES = ("heist", "jumper", "maze", "caveflyer")
ACTIONS = "moves"  # LEFT, DOWN, UP, RIGHT


@dataclass
class Scene:
    game: str
    level: int
    solution: list[int]  # a shortest action sequence (indices into the four moves) that reaches the goal
    start_frame: np.ndarray  # (64, 64, 3) uint8
    goal_frame: np.ndarray  # (64, 64, 3) uint8: the last frame before the rewarded restart
    start_state: bytes  # the Procgen game state at the start

    @property
    def length(self) -> int:
        return len(self.solution)


def scene_env(game: str, level: int, distribution_mode: str = "hard") -> ProcgenRealEnv:
    return ProcgenRealEnv(game, distribution_mode=distribution_mode, start_level=level, num_levels=1,
                          actions=ACTIONS)


def start_scene(env: ProcgenRealEnv, scene: Scene) -> np.ndarray:
    """Put `env` (made by `scene_env` for the scene's game) at the scene's start; returns the start frame."""
    env.reset(seed=0)
    state = ProcgenEnvState(ProcgenBatchState(scene.game, (scene.start_state,), (0,)), scene.start_frame, False)
    return env.set_state(state)


def _key(frame: np.ndarray) -> bytes:
    return hashlib.blake2b(frame.tobytes(), digest_size=16).digest()


def search_level(game: str, level: int, max_steps: int = 20, max_nodes: int = 20_000,
                 distribution_mode: str = "hard", min_steps: int = 2) -> Scene | None:
    """Breadth-first search from a level's start for a shortest action sequence that ends the episode with a
    positive reward within `max_steps`; None if there is none (or the search exceeds `max_nodes` states), or if
    the shortest is shorter than `min_steps`."""
    env = scene_env(game, level, distribution_mode)
    start_frame, _ = env.reset(seed=0)
    start = env.get_state()
    queue, seen, expanded = deque([(start, [])]), {_key(start_frame)}, 0
    while queue and expanded < max_nodes:
        state, path = queue.popleft()
        expanded += 1
        for action in range(env.action_space.n):
            env.set_state(state)
            frame, reward, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                if reward > 0:  # the first goal found is a shortest one: too short, and the level is trivial
                    solution = path + [action]
                    return Scene(game, level, solution, start_frame, frame, start.batch.game_states[0]) \
                        if len(solution) >= min_steps else None
                continue
            key = _key(frame)
            if len(path) + 1 < max_steps and key not in seen:
                seen.add(key)
                queue.append((env.get_state(), path + [action]))
    return None


def find_scenes(game: str, count: int = 30, start_level: int = 0, num_levels: int = 1000, max_steps: int = 20,
                max_nodes: int = 20_000, distribution_mode: str = "hard", min_steps: int = 2,
                progress: bool = True) -> list[Scene]:
    """The first `count` levels of [start_level, start_level + num_levels) whose goal is reachable within
    `max_steps` (test levels 0-999 by default)."""
    scenes = []
    bar = tqdm(total=count, desc=f"scenes {game}", disable=not progress)
    for level in range(start_level, start_level + num_levels):
        scene = search_level(game, level, max_steps, max_nodes, distribution_mode, min_steps)
        if scene is not None:
            scenes.append(scene)
            bar.update()
            if len(scenes) == count:
                break
    bar.close()
    return scenes


def replays_to_goal(scene: Scene, distribution_mode: str = "hard") -> bool:
    """Whether the scene's solution, played from its start state in the real game, reaches the goal."""
    env = scene_env(scene.game, scene.level, distribution_mode)
    start_scene(env, scene)
    for action in scene.solution:
        frame, reward, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            return bool(reward > 0) and np.array_equal(frame, scene.goal_frame)
    return False


def save_scenes(scenes: list[Scene], folder: str | Path, settings: dict) -> Path:
    folder = Path(folder)
    arrays = {"start_frames": np.stack([s.start_frame for s in scenes]),
              "goal_frames": np.stack([s.goal_frame for s in scenes])}
    arrays.update({f"state_{i}": np.frombuffer(s.start_state, dtype=np.uint8) for i, s in enumerate(scenes)})
    with atomic_path(folder / "scenes.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    write_json(folder / "scenes.json", {
        "version": __version__, "actions": ACTIONS, **settings,
        "scenes": [{k: v for k, v in asdict(s).items() if k in ("game", "level", "solution")} for s in scenes]})
    return folder


def load_scenes(folder: str | Path) -> tuple[list[Scene], dict]:
    """A saved scene set and its settings (distribution mode, step limit, ...)."""
    folder = Path(folder)
    meta = read_json(folder / "scenes.json", "scene set")
    with np.load(folder / "scenes.npz") as arrays:
        scenes = [Scene(s["game"], s["level"], s["solution"], arrays["start_frames"][i], arrays["goal_frames"][i],
                        arrays[f"state_{i}"].tobytes()) for i, s in enumerate(meta["scenes"])]
    settings = {k: v for k, v in meta.items() if k != "scenes"}
    return scenes, settings
