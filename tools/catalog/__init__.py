"""Tool modules; each declares its tools with @tool (loaded by tools.registry.load_all)."""
