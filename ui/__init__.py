"""OrderPilot ui."""
