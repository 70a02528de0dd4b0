"""Regenerate migration 0001 from the table models (only until the first release; then add revisions)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from data_model.db import MIGRATIONS_DIR, alembic_config, make_engine

target = MIGRATIONS_DIR / "versions" / "0001_initial.py"
target.unlink(missing_ok=True)
engine = make_engine(f"sqlite:///{tempfile.mkdtemp()}/empty.sqlite")
cfg = alembic_config(engine)
command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
made = next((MIGRATIONS_DIR / "versions").glob("0001_*.py"))
made.rename(target)
print(f"wrote {target.relative_to(Path.cwd())}")
