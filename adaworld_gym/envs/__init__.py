"""The real environments (Procgen), `ProcgenReal-v0` registered with Gymnasium on import."""

import gymnasium as gym

from adaworld_gym.envs.procgen_games import ACTION_SUBSETS, PROCGEN_ACTION_NAMES, PROCGEN_GAMES
from adaworld_gym.envs.procgen_real import ProcgenEnvState, ProcgenRealEnv
from adaworld_gym.envs.procgen_vector import ProcgenRealVectorEnv

if "ProcgenReal-v0" not in gym.registry:
    gym.register(
        id="ProcgenReal-v0",
        entry_point="adaworld_gym.envs.procgen_real:ProcgenRealEnv",
        vector_entry_point="adaworld_gym.envs.procgen_vector:ProcgenRealVectorEnv",
    )

__all__ = ["ACTION_SUBSETS", "PROCGEN_ACTION_NAMES", "PROCGEN_GAMES", "ProcgenEnvState", "ProcgenRealEnv",
           "ProcgenRealVectorEnv"]
