"""Ask: a question becomes a cited answer (parse, retrieve, extract)."""
