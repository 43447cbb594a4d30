"""Memories: the write path, retrieval, diagnostics, self-service data and upkeep."""
