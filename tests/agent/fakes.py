"""The scripted chat model lives in evals.fakes (the eval runner's scripted backend uses it too)."""

from evals.fakes import ScriptedChatModel, Step, calls, tool_results

__all__ = ["ScriptedChatModel", "Step", "calls", "tool_results"]
