"""Evaluation of the models and the simulator: metrics (`metrics.py`), the latent action model (`lam_eval.py`),
world models (`wm_eval.py`), controllability (`controllability.py`), adaptation (`adaptation_eval.py`)."""
