"""Model: text becomes vectors (sentence-transformers, or its ONNX export)."""
