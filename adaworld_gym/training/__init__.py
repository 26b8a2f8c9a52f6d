"""Training loops for the models (CleanRL style: one readable loop per model)."""
