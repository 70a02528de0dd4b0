"""`orderpilot proposals …`: list, show, confirm and reject proposals."""

from __future__ import annotations

import typer

app = typer.Typer(help="Pending proposals: list, show, confirm, reject.", no_args_is_help=True)
