"""adaworld-gym: AdaWorld latent-action world models served as Gymnasium environments.

Importing the package registers `ProcgenReal-v0`, `AdaWorld-Procgen-v0` and `AdaWorld-v0`.
"""

__version__ = "0.1.0"

from adaworld_gym import envs  # noqa: E402,F401  (registers the environments)


def make_learned(checkpoint, **kwargs):
    """The learned simulator of an environment adapted with `adaworld adapt --env`, with the original action
    space: `gym.make("AdaWorld-v0", checkpoint=checkpoint, **kwargs)` (see `AdaWorldEnv` for the options)."""
    import gymnasium as gym

    return gym.make("AdaWorld-v0", checkpoint=checkpoint, **kwargs)


__all__ = ["make_learned"]
