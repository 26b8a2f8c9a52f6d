"""Facts about the 16 Procgen games: names, the 15 button combos, named action subsets and episode timeouts."""

from __future__ import annotations

from collections.abc import Sequence

PROCGEN_GAMES: tuple[str, ...] = (
    "bigfish", "bossfight", "caveflyer", "chaser", "climber", "coinrun", "dodgeball", "fruitbot",
    "heist", "jumper", "leaper", "maze", "miner", "ninja", "plunder", "starpilot",
)

# Procgen's Discrete(15) action i presses these buttons (procgen/env.py, `get_combos`).
PROCGEN_ACTION_NAMES: tuple[str, ...] = (
    "LEFT+DOWN", "LEFT", "LEFT+UP", "DOWN", "NOOP", "UP", "RIGHT+DOWN", "RIGHT", "RIGHT+UP",
    "D", "A", "W", "S", "Q", "E",
)

# Named subsets, as indices into the 15 combos. "moves" is the planning benchmark's action set.
ACTION_SUBSETS: dict[str, tuple[int, ...]] = {
    "full": tuple(range(15)),
    "moves": (1, 3, 5, 7),  # LEFT, DOWN, UP, RIGHT
    "moves_noop": (1, 3, 5, 7, 4),
}

DISTRIBUTION_MODES: tuple[str, ...] = ("easy", "hard", "extreme", "memory", "exploration")

# Steps after which Procgen ends an episode on its own (`timeout` in procgen/src/game.cpp and the games'
# constructors). An episode that ends at exactly this length without completing the level was cut by time.
DEFAULT_TIMEOUT = 1000
GAME_TIMEOUTS: dict[str, int] = {"bigfish": 6000, "bossfight": 4000, "plunder": 4000, "leaper": 500, "maze": 500}

# Levels 0-999 are the test split, 1000 and up the training split, as in the AdaWorld paper.
TEST_LEVELS = (0, 1000)
TRAIN_LEVELS = (1000, 9000)


def check_distribution_mode(mode: str) -> str:
    """Return `mode` if it is one of Procgen's distribution modes, else raise a ValueError listing them."""
    if mode not in DISTRIBUTION_MODES:
        raise ValueError(f"unknown distribution_mode {mode!r}; choose one of {DISTRIBUTION_MODES}")
    return mode


def check_game(game: str) -> str:
    """Return `game` if it is a Procgen game, else raise a ValueError listing the valid names."""
    if game not in PROCGEN_GAMES:
        raise ValueError(f"unknown Procgen game {game!r}; choose one of: {', '.join(PROCGEN_GAMES)}")
    return game


def resolve_games(games: list[str]) -> list[str]:
    """["all"] is the 16 Procgen games; any other list is returned as it is."""
    return list(PROCGEN_GAMES) if games == ["all"] else games


def resolve_actions(actions: str | Sequence[int]) -> tuple[int, ...]:
    """Map a subset name ("full", "moves", "moves_noop") or a list of combo indices to combo indices."""
    if isinstance(actions, str):
        if actions not in ACTION_SUBSETS:
            raise ValueError(f"unknown action subset {actions!r}; choose one of {sorted(ACTION_SUBSETS)} "
                             "or pass a list of combo indices 0-14")
        return ACTION_SUBSETS[actions]
    combos = tuple(int(a) for a in actions)
    if not combos or len(set(combos)) != len(combos) or not all(0 <= a < 15 for a in combos):
        raise ValueError(f"actions must be distinct combo indices in 0-14, got {list(actions)!r}")
    return combos


def episode_timeout(game: str, distribution_mode: str) -> int:
    """Procgen's own step limit for an episode of `game`."""
    if game == "jumper" and distribution_mode == "memory":
        return 2000
    return GAME_TIMEOUTS.get(game, DEFAULT_TIMEOUT)


def split_levels(split: str) -> tuple[int, int]:
    """(start_level, num_levels) of the paper's "train" or "test" split."""
    splits = {"train": TRAIN_LEVELS, "test": TEST_LEVELS}
    if split not in splits:
        raise ValueError(f"unknown split {split!r}; choose 'train' (levels 1000+) or 'test' (levels 0-999)")
    return splits[split]
