"""Store: where vectors and words live, persisted and swapped in atomically."""
