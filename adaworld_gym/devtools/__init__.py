"""Checks for developers, run as modules (`python -m adaworld_gym.devtools.layers`); nothing else imports them."""
