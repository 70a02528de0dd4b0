"""Pure planning and costing algorithms on frozen, typed inputs (no database, web or LLM code)."""
