"""adaworld-gym: AdaWorld latent-action world models served as Gymnasium environments.

Importing the package registers `ProcgenReal-v0` (`envs`), `AdaWorld-Procgen-v0` and `AdaWorld-v0` (`simulator`).
"""

from adaworld_gym import envs, simulator  # noqa: F401  (registers the environments)
from adaworld_gym.version import __version__  # noqa: F401  (re-exported: adaworld_gym.__version__)


def make_learned(checkpoint, **kwargs):
    """The learned simulator of an environment adapted with `adaworld adapt --env`, with the original action
    space: `gym.make("AdaWorld-v0", checkpoint=checkpoint, **kwargs)` (see `AdaWorldEnv` for the options)."""
    import gymnasium as gym

    return gym.make("AdaWorld-v0", checkpoint=checkpoint, **kwargs)


__all__ = ["make_learned"]
