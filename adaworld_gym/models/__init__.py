"""Models: the latent action autoencoder (and, later, the diffusion world model)."""
