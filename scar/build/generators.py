"""The ``--generator`` backends: each turns the generator options into caption steps.

- ``lexical`` (default; offline, deterministic for a seed): annotations, geometry, the
  lexical scene inference, WordNet swaps;
- ``openai``: any OpenAI-compatible endpoint (``--llm-base-url``, ``--llm-model``, key in
  ``OPENAI_API_KEY``). Annotations and geometry first; the LLM completes what they cannot
  give and writes the 9 swaps (validated). ``--complete-only`` (mixed mode): the lexical
  backend also does what it can (scene inference, swaps) and the LLM only fills gaps;
- ``local``: starts the bundled SmolLM2-135M-Instruct with xllamacpp on 127.0.0.1 and uses
  the ``openai`` path against it with JSON-schema-constrained decoding; mixed mode unless
  ``--llm-swaps``. The scene is constrained to the bundled scene vocabulary (a 135M model
  names places badly) unless ``closed_scenes=False``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scar.build.base import Step
from scar.build.steps.compose import ComposeCaption
from scar.build.steps.lexical import LexicalNegatives
from scar.errors import ScarUserError

if TYPE_CHECKING:
    from scar.build.config import GeneratorConfig


def llm_config(gen: GeneratorConfig, default_model: str | None = None, **defaults: Any):
    """The ``LLMConfig`` of the generator's endpoint: the options given, else ``defaults``."""
    from scar.build.llm.client import LLMConfig

    kw: dict[str, Any] = dict(defaults)
    for name in ("concurrency", "timeout", "max_attempts", "max_tokens", "json_mode"):
        if getattr(gen, name) is not None:
            kw[name] = getattr(gen, name)
    if gen.price is not None:
        kw["price_in"], kw["price_out"] = float(gen.price[0]), float(gen.price[1])
    return LLMConfig(model=gen.model or default_model or "", base_url=gen.base_url, max_cost=gen.max_cost,
                     use_cache=gen.use_cache, **kw).check()


def lexical(gen: GeneratorConfig, seed: int = 0) -> list[Step]:
    return [ComposeCaption(), LexicalNegatives(seed=seed)]


def openai(gen: GeneratorConfig, seed: int = 0) -> list[Step]:
    from scar.build.llm.step import LLMStep

    if not gen.model:
        raise ScarUserError("--generator openai needs --llm-model (and --llm-base-url for a non-OpenAI endpoint)")
    mixed = gen.complete_only
    step = LLMStep(llm_config(gen), swaps=not mixed, vision=gen.vision, closed_scenes=bool(gen.closed_scenes))
    return _steps(seed, step, mixed)


def local(gen: GeneratorConfig, seed: int = 0) -> list[Step]:
    from scar.build.llm.server import MODEL_NAME, LocalServer, bundled_gguf, check_xllamacpp
    from scar.build.llm.step import LLMStep

    if gen.base_url:
        raise ScarUserError("--generator local starts its own server: drop --llm-base-url (or use --generator openai)")
    check_xllamacpp()
    gguf = bundled_gguf()
    mixed = not gen.llm_swaps
    cfg = llm_config(gen, MODEL_NAME, concurrency=2, max_tokens=64 if mixed else 160, timeout=120.0, max_attempts=3)
    server = LocalServer(gguf, parallel=cfg.concurrency)
    closed = True if gen.closed_scenes is None else gen.closed_scenes
    step = LLMStep(cfg, swaps=not mixed, vision=False, closed_scenes=closed, server=server)
    return _steps(seed, step, mixed)


def _steps(seed: int, step, mixed: bool) -> list[Step]:
    compose = ComposeCaption(infer_scene=mixed, defer=True)
    return [compose, step, LexicalNegatives(seed=seed)] if mixed else [compose, step]
