"""The views of the web UI, one module per page."""
