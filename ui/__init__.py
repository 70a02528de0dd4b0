"""The web UI (gradio, mounted in the FastAPI app); gradio's analytics are off before gradio is imported."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
