"""SQLModel tables, sessions, migrations, dataset import/export and repositories."""
