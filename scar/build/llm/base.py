"""The one base of every step that asks an LLM (generation: ``LLMStep``; the judge:
``LLMJudge``). It owns what they share:

- ``config`` (``LLMConfig``, checked), ``budget`` (one ``Budget`` for the whole build:
  pass the first step's budget to the next, ``share_budget`` does it for a step list),
  ``server`` (a local server started for the run), ``window`` (images per ``run`` call,
  whose requests go out concurrently);
- the client loop: ``run`` picks the samples that need a request (``wanted``), sends
  them concurrently through one ``LLMClient`` (``ask``, one coroutine per sample, which
  returns a result or the ``LLMFailure``), adds the client's counters to the step's
  stats, and hands the results to ``finish``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import contextlib
import concurrent.futures
from abc import abstractmethod
from typing import Any

from scar.build.base import LLMBinding, Resources, Step
from scar.build.llm.client import Budget, LLMClient, LLMConfig
from scar.types import Sample


def run_coro(coro):
    """Run a coroutine to completion, also from inside a running event loop (notebooks)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        return ex.submit(asyncio.run, coro).result()


class LLMBackedStep(Step):
    def __init__(self, config: LLMConfig, *, budget: Budget | None = None, server=None) -> None:
        self.config = config.check()
        #: made before the workers fork, shared by every LLM step of the build
        self.budget = budget if budget is not None else Budget(config.max_cost)
        self.server = server
        #: images handed to one ``run`` call by the build (requests of a window run concurrently)
        self.window = max(16, 8 * config.concurrency)

    # -- the declared hooks of Step (scar/build/base.py) ---------------------------------
    @property
    def llm(self) -> LLMBinding:
        return LLMBinding(self.config, self.budget, self.server)

    def bind_llm(self, binding: LLMBinding) -> None:
        self.config, self.budget, self.server = binding.config, binding.budget, binding.server

    def resources(self) -> Resources:
        return Resources(cpus=0.0, pool=True)  # waits on the endpoint: no CPU held

    @contextlib.contextmanager
    def started(self):
        """Start the local server (if any) for the run; requests then go to its URL."""
        if self.server is None:
            yield self
            return
        self.server.start()
        self.config.base_url = self.server.base_url
        try:
            yield self
        finally:
            self.server.stop()

    def wanted(self, samples: list[Sample]) -> list[Sample]:
        """The samples that need a request (default: all)."""
        return samples

    @abstractmethod
    async def ask(self, client: LLMClient, s: Sample) -> Any:
        """The result for one sample, or the ``LLMFailure`` of its request."""

    @abstractmethod
    def finish(self, samples: list[Sample], results: dict[int, Any]) -> list[Sample]:
        """The samples that go on, given ``results`` (``id(sample)`` -> what ``ask`` returned)."""

    def run(self, samples: list[Sample]) -> list[Sample]:
        todo = self.wanted(samples)
        if not todo:
            return samples
        client = LLMClient(self.config, budget=self.budget)
        results = run_coro(self._all(client, todo))
        for k, v in client.counters.items():
            self.stats.counters[k] = self.stats.counters.get(k, 0) + v
        return self.finish(samples, results)

    async def _all(self, client: LLMClient, todo: list[Sample]) -> dict[int, Any]:
        async with client:
            res = await asyncio.gather(*(self.ask(client, s) for s in todo))
        return {id(s): r for s, r in zip(todo, res)}


def share_budget(steps: list[Step]) -> list[Step]:
    """Give every LLM step of ``steps`` the first one's budget (one ``--max-cost`` for the
    build); the tightest cap of the steps wins. Returns ``steps``."""
    llm = [st for st in steps if st.llm is not None]
    if llm:
        caps = [st.llm.budget.max_cost for st in llm if st.llm.budget.max_cost is not None]
        budget = llm[0].llm.budget
        budget.max_cost = min(caps) if caps else None
        for st in llm[1:]:
            st.bind_llm(dataclasses.replace(st.llm, budget=budget))
    return steps
