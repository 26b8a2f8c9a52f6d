"""Agents that use a learned simulator: visual planning (`scenes`, `planner`, `plan_bench`)."""

# The rows of the planning benchmark, in the paper's order.
PLAN_METHODS = ("random", "action-agnostic", "adaworld-no-finetune", "adaworld", "oracle")
