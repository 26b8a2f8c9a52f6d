"""The diffusion next-frame model: the EDM denoiser (training loss) and the sampler (inference), kept apart."""
