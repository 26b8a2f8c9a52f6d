"""Adaptation to a real action space (AdaWorld section 3): action maps, the reward model, fine-tuning."""
