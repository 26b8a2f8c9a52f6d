"""Evaluation of the models: latent action quality (and, later, world model and simulator fidelity)."""
