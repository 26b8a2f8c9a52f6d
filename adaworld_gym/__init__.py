"""adaworld-gym: AdaWorld latent-action world models served as Gymnasium environments.

Importing the package registers `ProcgenReal-v0` (and, once trained models ship, the learned simulators).
"""

__version__ = "0.1.0"

from adaworld_gym import envs  # noqa: E402,F401  (registers the environments)
