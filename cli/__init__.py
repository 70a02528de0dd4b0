"""The orderpilot command line."""
