"""agent tests."""
