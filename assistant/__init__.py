"""OrderPilot assistant."""
