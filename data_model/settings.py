"""Settings read from the environment (prefix ORDERPILOT_) or a .env file; built on demand, never at import."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DB_PATH = Path("var") / "orderpilot.sqlite"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERPILOT_", env_file=".env", extra="ignore")

    database_url: str = f"sqlite:///{DEFAULT_DB_PATH}"
    today: date | None = None  # overrides the dataset's planning clock
    llm_base_url: str = ""
    llm_model: str = "gpt-4o-mini"
    llm_api_key: str = ""
    llm_timeout_seconds: float = 60.0
    llm_max_tool_calls: int = 12
    assistant_backend: str = ""  # offline | openai; empty = openai when llm_base_url or a key is set
    allow_negative_stock: bool = False
    over_issue_tolerance: float = 0.0  # share of the requirement that may be over-issued without a reason
    receipt_tolerance: float = 0.0  # share of an order that may be over-received
    proposal_ttl_hours: int = 72
    max_request_bytes: int = 2_000_000
    costing_wip_conversion_completion: float = 0.5  # default conversion completion of ending WIP
    cors_origins: str = ""  # comma-separated; empty = CORS closed
    chroma_path: str = ""  # empty = an in-memory index
    ui_enabled: bool = (
        True  # serve the web UI at /ui (create_app); API-only deployments and tests turn it off
    )
    ui_demo_password: str = "orderpilot"  # demo-<role> users sign in with it; empty = never set
    # After the first promise on new data, prepare the commitments of every priority in the background.
    promise_prepare: bool = True
    # The offline assistant keeps each conversation's state in the database per user: at most this many
    # threads per user (the least recently used are dropped first), none left unused longer than this.
    offline_threads_per_user: int = 200
    offline_thread_retention_days: int = 30


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
