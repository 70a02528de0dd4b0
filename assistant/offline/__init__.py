"""The offline assistant backend: bilingual understanding without a model, answers from the tools."""
