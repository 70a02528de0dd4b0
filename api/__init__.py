"""OrderPilot api."""
