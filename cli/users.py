"""`orderpilot users …`: add and list users, issue API tokens."""

from __future__ import annotations

import typer

app = typer.Typer(help="Users, roles and API tokens.", no_args_is_help=True)
