"""`python -m adaworld_gym ...` is the `adaworld` command (for hosts where the package is on PYTHONPATH only)."""

from adaworld_gym.cli import main

main()
