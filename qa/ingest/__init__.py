"""Ingest: a report file becomes a Document with its structure, then chunks."""
