"""Test doubles that ship with the package: tiny random checkpoints, a stub LLM endpoint and a
synthetic COCO writer. Only tests and benchmarks import them."""
