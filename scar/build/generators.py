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

from dataclasses import dataclass, fields
from typing import Any

from scar.build.base import Step
from scar.build.steps.compose import ComposeCaption
from scar.build.steps.lexical import LexicalNegatives


@dataclass
class GeneratorOptions:
    model: str | None = None
    base_url: str | None = None
    complete_only: bool = False
    llm_swaps: bool = False
    max_cost: float | None = None
    price: tuple[float, float] | None = None  # USD per 1M prompt / completion tokens
    concurrency: int | None = None
    timeout: float | None = None
    max_attempts: int | None = None
    max_tokens: int | None = None
    json_mode: str | None = None
    vision: bool = False
    closed_scenes: bool | None = None
    use_cache: bool = True

    @classmethod
    def from_dict(cls, opts: dict[str, Any] | None) -> GeneratorOptions:
        known = {f.name for f in fields(cls)}
        opts = {k: v for k, v in (opts or {}).items() if v is not None}
        bad = sorted(set(opts) - known)
        if bad:
            raise ValueError(f"unknown generator option(s) {bad}; known: {sorted(known)}")
        return cls(**opts)

    def llm_config(self, default_model: str | None = None, **defaults: Any):
        from scar.build.llm.client import LLMConfig

        kw: dict[str, Any] = dict(defaults)
        for name in ("concurrency", "timeout", "max_attempts", "max_tokens", "json_mode"):
            if getattr(self, name) is not None:
                kw[name] = getattr(self, name)
        if self.price is not None:
            if len(self.price) != 2:
                raise ValueError(f"--llm-price takes two numbers (USD per 1M prompt and completion tokens), "
                                 f"got {self.price!r}")
            kw["price_in"], kw["price_out"] = float(self.price[0]), float(self.price[1])
        return LLMConfig(model=self.model or default_model or "", base_url=self.base_url, max_cost=self.max_cost,
                         use_cache=self.use_cache, **kw).check()

    def given_llm_options(self) -> list[str]:
        default = GeneratorOptions()
        return [f.name for f in fields(self) if getattr(self, f.name) != getattr(default, f.name)]


def lexical(seed: int = 0, options: dict[str, Any] | None = None) -> list[Step]:
    opts = GeneratorOptions.from_dict(options)
    given = opts.given_llm_options()
    if given:
        raise ValueError(f"--generator lexical takes no LLM options (got {given}); use --generator openai or local")
    return [ComposeCaption(), LexicalNegatives(seed=seed)]


def openai(seed: int = 0, options: dict[str, Any] | None = None) -> list[Step]:
    from scar.build.llm.step import LLMStep

    opts = GeneratorOptions.from_dict(options)
    if opts.complete_only and opts.llm_swaps:
        raise ValueError("--complete-only and --llm-swaps contradict each other: choose one")
    if not opts.model:
        raise ValueError("--generator openai needs --llm-model (and --llm-base-url for a non-OpenAI endpoint)")
    mixed = opts.complete_only
    step = LLMStep(opts.llm_config(), swaps=not mixed, vision=opts.vision, closed_scenes=bool(opts.closed_scenes))
    return _steps(seed, step, mixed)


def local(seed: int = 0, options: dict[str, Any] | None = None) -> list[Step]:
    from scar.build.llm.step import LLMStep
    from scar.build.llm.server import MODEL_NAME, LocalServer, bundled_gguf, check_xllamacpp

    opts = GeneratorOptions.from_dict(options)
    if opts.base_url:
        raise ValueError("--generator local starts its own server: drop --llm-base-url (or use --generator openai)")
    if opts.complete_only and opts.llm_swaps:
        raise ValueError("--complete-only and --llm-swaps contradict each other: choose one")
    check_xllamacpp()
    gguf = bundled_gguf()
    mixed = not opts.llm_swaps
    cfg = opts.llm_config(MODEL_NAME, concurrency=2, max_tokens=64 if mixed else 160, timeout=120.0,
                          max_attempts=3)
    server = LocalServer(gguf, parallel=cfg.concurrency)
    closed = True if opts.closed_scenes is None else opts.closed_scenes
    step = LLMStep(cfg, swaps=not mixed, vision=False, closed_scenes=closed, server=server)
    return _steps(seed, step, mixed)


def _steps(seed: int, step, mixed: bool) -> list[Step]:
    compose = ComposeCaption(infer_scene=mixed, defer=True)
    return [compose, step, LexicalNegatives(seed=seed)] if mixed else [compose, step]
