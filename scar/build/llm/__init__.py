"""The LLM path: OpenAI-compatible client, reply cache, budget, prompts, the local server."""
