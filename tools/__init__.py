"""The one registry of typed tools: declared once, served to the agent, REST, MCP and the CLI."""
