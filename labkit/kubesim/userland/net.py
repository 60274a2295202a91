"""(filled in next)."""
