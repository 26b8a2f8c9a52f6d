"""The networks, each with a `save_pretrained` / `from_pretrained` safetensors checkpoint: the latent action model,
the frame autoencoder, the diffusion denoiser and sampler, the conditions, and the world model that joins them."""
