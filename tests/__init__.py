"""OrderPilot test suite."""
