"""Regenerate migration 0001 from the table models (only until the first release; then add revisions).

Later revisions (0002_append_only: triggers, no tables) are set aside while 0001 is rebuilt and put back after.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from alembic import command

from data_model.db import MIGRATIONS_DIR, alembic_config, make_engine

versions = MIGRATIONS_DIR / "versions"
target = versions / "0001_initial.py"
aside = Path(tempfile.mkdtemp())
later = [p for p in versions.glob("0*.py") if p.name != target.name]
for path in later:
    shutil.move(path, aside / path.name)
try:
    target.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{tempfile.mkdtemp()}/empty.sqlite")
    cfg = alembic_config(engine)
    command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
    made = next(versions.glob("0001_*.py"))
    made.rename(target)
finally:
    for path in later:
        shutil.move(aside / path.name, path)
print(f"wrote {target.relative_to(Path.cwd())}")
