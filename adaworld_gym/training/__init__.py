"""Training: every trainer's config (`configs.py`), the one loop they share (`loop.py`), and one task per model
(`train_lam.py`, `train_ae.py`, `train_wm.py`)."""
