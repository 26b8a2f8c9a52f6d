"""The learned simulator: an adapted world model served as Gymnasium environments, registered on import.

`loading` builds a simulator from shipped or given weights, `batch` steps N imagined copies together, `env` holds
`AdaWorld-Procgen-v0` and `AdaWorld-v0`, `vector` the Procgen simulator's vector env. The entry points are strings,
so registering imports none of them (nor torch) until an env is made.
"""

import gymnasium as gym

if "AdaWorld-Procgen-v0" not in gym.registry:
    gym.register(
        id="AdaWorld-Procgen-v0",
        entry_point="adaworld_gym.simulator.env:AdaWorldProcgenEnv",
        vector_entry_point="adaworld_gym.simulator.vector:AdaWorldProcgenVectorEnv",
    )

if "AdaWorld-v0" not in gym.registry:
    gym.register(id="AdaWorld-v0", entry_point="adaworld_gym.simulator.env:AdaWorldEnv")
