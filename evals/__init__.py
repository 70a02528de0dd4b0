"""OrderPilot evals."""
