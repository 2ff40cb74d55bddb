"""``LLMClient.complete(messages, schema) -> Completion`` behind any OpenAI-compatible chat
endpoint, through the official ``openai`` client (async).

- structured output: the reply schema goes out as ``response_format`` (``json_schema``, or
  ``json_object`` for endpoints without schemas); the reply is parsed with the schema's
  pydantic model and checked by the caller's ``validate``;
- bounded concurrency (a semaphore), retries with exponential backoff (``Retry-After``
  honoured) on 429, 5xx, timeouts and connection errors; an invalid reply is retried with
  the reason told to the model; after ``max_attempts`` the request fails with its reason;
- ``timeout`` (``--llm-timeout``) is a deadline for the whole request, not for one read:
  a server that drips its answer byte by byte is cut off when it passes;
- a budget (``max_cost`` in USD): each attempt reserves its worst case (prompt estimate +
  ``max_tokens``, at the configured prices) before it is sent and books *at most* that
  reservation when it ends: the reported usage when it is plausible, the whole
  reservation when the usage is missing, negative or larger than the request allows,
  or when no answer came. So the booked cost never exceeds ``max_cost``, whatever a
  server reports. A request that does not fit while others are in flight waits for
  them to settle; it fails only when the booked cost alone leaves no room. One
  ``Budget`` serves every LLM step of a build (generation and judge), across forked
  workers (shared memory) or Ray (one actor);
- a content-addressed on-disk cache (``LLMCache``): a hit makes no request.

Counters (requests, cache hits, retries, tokens, cost, failures by kind) are kept in
``self.counters`` for the build report.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing as mp
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scar.build.llm.cache import LLMCache, cache_key
from scar.build.llm.prompting import InvalidReply, reply_schema
from scar.errors import MissingExtra

log = logging.getLogger(__name__)


@dataclass
class LLMConfig:
    model: str
    base_url: str | None = None
    api_key: str | None = None  # default: $OPENAI_API_KEY
    concurrency: int = 8
    timeout: float = 60.0
    max_attempts: int = 4
    backoff: float = 1.0
    backoff_max: float = 30.0
    max_tokens: int = 256
    temperature: float = 0.0
    json_mode: str = "schema"  # "schema" | "object"
    max_cost: float | None = None
    price_in: float = 0.0  # USD per 1M prompt tokens
    price_out: float = 0.0  # USD per 1M completion tokens
    seed: int | None = 0
    use_cache: bool = True

    def check(self) -> LLMConfig:
        if not self.model:
            raise ValueError("--llm-model is required for the LLM generators")
        for name in ("concurrency", "max_attempts", "max_tokens"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"--llm-{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.timeout <= 0:
            raise ValueError(f"--llm-timeout must be > 0, got {self.timeout}")
        if self.json_mode not in ("schema", "object"):
            raise ValueError(f"--llm-json must be 'schema' or 'object', got {self.json_mode!r}")
        if self.price_in < 0 or self.price_out < 0:
            raise ValueError("--llm-price values must be >= 0")
        if self.max_cost is not None:
            if self.max_cost <= 0:
                raise ValueError(f"--max-cost must be > 0, got {self.max_cost}")
            if self.price_in == 0 and self.price_out == 0:
                raise ValueError("--max-cost needs the model's prices: --llm-price IN OUT (USD per 1M tokens)")
        return self

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.price_in + tokens_out * self.price_out) / 1e6


class Budget:
    """Booked and reserved USD in shared memory (fork-safe); ``max_cost`` None: unlimited.

    ``try_reserve`` answers ``"ok"`` (reserved), ``"wait"`` (in-flight reservations hold the
    room: try again when they settle) or ``"never"`` (the booked cost alone leaves no room)."""

    def __init__(self, max_cost: float | None) -> None:
        self.max_cost = max_cost
        self._v = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else None).Array("d", 2)

    def try_reserve(self, amount: float) -> str:
        with self._v.get_lock():
            return _reserve(self._v, self.max_cost, amount)

    def settle(self, reserved: float, booked: float) -> None:
        """Release ``reserved`` and book ``booked`` (clipped to ``[0, reserved]``)."""
        with self._v.get_lock():
            self._v[1] -= reserved
            self._v[0] += min(max(booked, 0.0), reserved)

    @property
    def spent(self) -> float:
        return self._v[0]


def _reserve(v, max_cost: float | None, amount: float) -> str:
    """The reservation rule on ``v = [booked, held]`` (shared by ``Budget`` and the Ray actor)."""
    if max_cost is not None:
        if v[0] + amount > max_cost:
            return "never"
        if v[0] + v[1] + amount > max_cost:
            return "wait"
    v[1] += amount
    return "ok"


class LLMFailure(Exception):
    """A request that gave no valid reply; ``kind`` names why (rate_limit, server, timeout,
    connection, invalid_json, invalid_schema, invalid_content, http_<status>, budget)."""

    def __init__(self, kind: str, detail: str, attempts: int) -> None:
        super().__init__(f"{kind}: {detail} (after {attempts} attempt{'s' * (attempts != 1)})")
        self.kind, self.detail, self.attempts = kind, detail, attempts


@dataclass
class Completion:
    data: dict[str, Any]
    cached: bool
    attempts: int = 0
    usage: dict[str, int] = field(default_factory=dict)


class _Retry(Exception):
    def __init__(self, kind: str, detail: str, delay: float | None = None, feedback: str | None = None) -> None:
        super().__init__(detail)
        self.kind, self.detail, self.delay, self.feedback = kind, detail, delay, feedback


class LLMClient:
    """Use as ``async with LLMClient(cfg) as c: await c.complete(...)`` inside one event loop."""

    def __init__(self, config: LLMConfig, *, cache: LLMCache | None = None, budget: Budget | None = None) -> None:
        self.config = config.check()
        self.cache = cache if cache is not None or not config.use_cache else LLMCache()
        self.budget = budget or Budget(config.max_cost)
        self.counters: dict[str, float] = {}
        self._client = None
        self._sem: asyncio.Semaphore | None = None

    def count(self, key: str, n: float = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    async def __aenter__(self) -> LLMClient:
        import openai

        key = self.config.api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if self.config.base_url is None:
                raise MissingExtra("the openai generator needs an API key in OPENAI_API_KEY (or --llm-base-url "
                                   "for a local OpenAI-compatible server)")
            key = "unused"  # local servers accept any key
        self._client = openai.AsyncOpenAI(base_url=self.config.base_url, api_key=key, max_retries=0,
                                          timeout=self.config.timeout)
        self._sem = asyncio.Semaphore(self.config.concurrency)
        return self

    async def __aexit__(self, *exc) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def complete(self, messages: list[dict[str, Any]], reply_model, *, prompt_id: str,
                       validate: Callable[[dict[str, Any]], Any] | None = None) -> Completion:
        cfg = self.config
        schema = reply_schema(reply_model)
        key = cache_key(model=cfg.model, prompt=prompt_id, messages=messages, schema=schema,
                        temperature=cfg.temperature, max_tokens=cfg.max_tokens, json_mode=cfg.json_mode)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                try:
                    data = self._parse(json.dumps(hit["reply"]), reply_model, validate)
                    self.count("cache_hits")
                    return Completion(data, cached=True)
                except _Retry as e:
                    log.warning("cached reply %s no longer validates (%s); asking again", key[:12], e.detail)
        rng = random.Random(key)
        history = list(messages)
        last: _Retry | None = None
        for attempt in range(1, cfg.max_attempts + 1):
            if attempt > 1:
                self.count("retries")
                delay = last.delay if last.delay is not None else cfg.backoff * 2 ** (attempt - 2)
                if last.kind.startswith("invalid_"):  # the endpoint is fine; ask again at once
                    delay = 0.0
                await asyncio.sleep(min(cfg.backoff_max, delay) * (0.5 + rng.random() / 2))
            try:
                data, usage = await self._attempt(history, reply_model, schema, validate, attempt)
            except _Retry as e:
                self.count(f"errors.{e.kind}")
                last = e
                if e.feedback is not None:  # tell the model what was wrong
                    history = list(messages) + [{"role": "assistant", "content": e.feedback[:800]},
                                                {"role": "user", "content": f"That reply was invalid: {e.detail}. "
                                                 "Reply again with corrected JSON only."}]
                if e.kind in ("budget",) or e.kind.startswith("http_"):
                    break
                continue
            if self.cache is not None:
                self.cache.put(key, data, model=cfg.model, prompt=prompt_id, usage=usage)
            return Completion(data, cached=False, attempts=attempt, usage=usage)
        self.count("failed")
        raise LLMFailure(last.kind, last.detail, attempt)

    async def _reserve(self, amount: float) -> None:
        """Reserve ``amount`` on the budget, waiting while in-flight requests hold the room."""
        while True:
            got = self.budget.try_reserve(amount)
            if got == "ok":
                return
            if got == "never":
                raise _Retry("budget", f"--max-cost {self.config.max_cost} USD reached "
                                       f"(booked {self.budget.spent:.4f})")
            self.count("budget_waits")
            await asyncio.sleep(0.02)

    async def _attempt(self, history, reply_model, schema, validate, attempt: int):
        import openai

        cfg = self.config
        est_in = sum(len(json.dumps(m["content"])) for m in history) // 3 + 16
        reserve = cfg.cost(est_in, cfg.max_tokens)
        await self._reserve(reserve)
        booked = reserve  # unless a plausible usage says less (or the server refused the request)
        try:
            fmt = ({"type": "json_schema", "json_schema": {"name": "scar_reply", "schema": schema, "strict": True}}
                   if cfg.json_mode == "schema" else {"type": "json_object"})
            async with self._sem:
                self.count("requests")
                try:
                    resp = await asyncio.wait_for(self._client.chat.completions.create(
                        model=cfg.model, messages=history, max_tokens=cfg.max_tokens, response_format=fmt,
                        temperature=cfg.temperature if attempt == 1 else max(cfg.temperature, 0.7),
                        seed=None if cfg.seed is None else cfg.seed + attempt - 1), cfg.timeout)
                except openai.RateLimitError as e:
                    booked = 0.0
                    raise _Retry("rate_limit", f"HTTP 429: {_short(e)}", _retry_after(e)) from e
                except openai.APIStatusError as e:
                    booked = 0.0
                    if e.status_code >= 500 or e.status_code in (408, 409):
                        raise _Retry("server", f"HTTP {e.status_code}: {_short(e)}") from e
                    raise _Retry(f"http_{e.status_code}", f"HTTP {e.status_code}: {_short(e)}") from e
                except (openai.APITimeoutError, asyncio.TimeoutError) as e:
                    raise _Retry("timeout", f"no complete reply within {cfg.timeout:g} s") from e
                except openai.APIConnectionError as e:
                    raise _Retry("connection", _short(e)) from e
                except (openai.APIResponseValidationError, ValueError) as e:  # a body that is not JSON
                    raise _Retry("invalid_response", f"unreadable response body: {_short(e)}") from e
            usage = _usage(resp, cfg.max_tokens)
            if usage is None:
                self.count("usage_invalid")  # missing, negative or impossible: the reservation is booked
                usage = {"prompt_tokens": est_in, "completion_tokens": cfg.max_tokens}
            else:
                booked = min(reserve, cfg.cost(usage["prompt_tokens"], usage["completion_tokens"]))
            self.count("tokens_in", usage["prompt_tokens"])
            self.count("tokens_out", usage["completion_tokens"])
            choices = getattr(resp, "choices", None)
            if not choices or not isinstance(choices, list):
                raise _Retry("invalid_response", "response has no choices")
            content = choices[0].message.content
            return self._parse(content, reply_model, validate), usage
        finally:
            self.budget.settle(reserve, booked)
            self.count("cost_usd", booked)

    @staticmethod
    def _parse(content: str | None, reply_model, validate) -> dict[str, Any]:
        from pydantic import ValidationError

        if not content or not content.strip():
            raise _Retry("invalid_json", "empty reply")
        try:
            obj = json.loads(content)
        except json.JSONDecodeError as e:
            raise _Retry("invalid_json", f"reply is not JSON ({e.msg} at {e.pos})", feedback=content) from e
        try:
            data = reply_model.model_validate(obj).model_dump()
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(x) for x in err.get("loc", ())) or "reply"
            msg = "does not match the reply schema's pattern" if err.get("type") == "string_pattern_mismatch" \
                else str(err.get("msg"))[:120]
            raise _Retry("invalid_schema", f"{where} {str(err.get('input'))[:60]!r} {msg}", feedback=content) from e
        if validate is not None:
            try:
                validate(data)
            except InvalidReply as e:
                raise _Retry("invalid_content", str(e), feedback=content) from e
        return data


def _usage(resp, max_tokens: int) -> dict[str, int] | None:
    """The reply's token counts, or None when they are missing or implausible (negative,
    not integers, or more completion tokens than ``max_tokens`` allows)."""
    u = getattr(resp, "usage", None)
    pt, ct = getattr(u, "prompt_tokens", None), getattr(u, "completion_tokens", None)
    if not (isinstance(pt, int) and isinstance(ct, int)) or isinstance(pt, bool) or isinstance(ct, bool):
        return None
    if pt < 0 or ct < 0 or ct > max_tokens:
        return None
    return {"prompt_tokens": pt, "completion_tokens": ct}


def _short(e: Exception, n: int = 200) -> str:
    return " ".join(str(e).split())[:n]


def _retry_after(e) -> float | None:
    try:
        v = e.response.headers.get("retry-after")
        return float(v) if v is not None else None
    except (AttributeError, TypeError, ValueError):
        return None
