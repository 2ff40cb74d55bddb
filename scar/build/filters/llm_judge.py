"""The LLM judge (``scar build --judge``): one structured request per sample asks, for
each of the 9 distractors, whether it is false for the boxed region. A sample with a
distractor the judge finds possibly true is dropped with the distractors named; a
sample whose request fails after the retries is dropped with the failure. Same
OpenAI-compatible client, reply cache (``$SCAR_CACHE/llm``) and the same budget object as
generation (one ``--max-cost`` for the build);
the prompt is a versioned file (``prompts/judge-v1.txt``) recorded in the card.
"""

from __future__ import annotations

import functools
import hashlib
import string
from importlib import resources
from typing import Any

from scar.build.llm.base import LLMBackedStep
from scar.build.llm.client import Budget, LLMClient, LLMConfig, LLMFailure
from scar.types import Sample

PROMPT = "judge-v1"


@functools.cache
def _prompt() -> tuple[dict[str, str], str]:
    text = resources.files("scar.build.filters").joinpath("prompts", f"{PROMPT}.txt").read_text(encoding="utf-8")
    sections, key = {}, None
    for line in text.splitlines():
        if line.startswith("### "):
            key = line[4:].strip()
            sections[key] = ""
        elif key:
            sections[key] += line + "\n"
    return sections, hashlib.sha256(text.encode()).hexdigest()


@functools.cache
def _reply_model(n: int):
    from typing import Annotated

    from pydantic import ConfigDict, Field, create_model

    return create_model("JudgeReply", __config__=ConfigDict(extra="forbid"),
                        false_for_region=(Annotated[list[bool], Field(min_length=n, max_length=n)], ...))


def judge_messages(s: Sample) -> list[dict[str, Any]]:
    sections, _ = _prompt()
    x, y, w, h = s.region.bbox
    region = (f"a {s.region.category} at x={x:.0f}..{x + w:.0f}, y={y:.0f}..{y + h:.0f} of a "
              f"{s.width}x{s.height} photo")
    cands = "\n".join(f"{i}. {c.text}" for i, c in enumerate(s.candidates[1:], start=1))
    user = string.Template(sections["user"]).substitute(region=region, gt=s.candidates[0].text, candidates=cands,
                                                        n=len(s.candidates) - 1)
    return [{"role": "system", "content": sections["system"].strip()}, {"role": "user", "content": user.strip()}]


class LLMJudge(LLMBackedStep):
    name = "llm_judge"

    def __init__(self, config: LLMConfig, *, budget: Budget | None = None) -> None:
        super().__init__(config, budget=budget)

    def info(self) -> dict[str, Any]:
        return {"judge_model": self.config.model, "judge_prompt": PROMPT, "judge_prompt_sha256": _prompt()[1][:16]}

    def finish(self, samples: list[Sample], results: dict[int, Any]) -> list[Sample]:
        out = []
        for s in samples:
            v = results[id(s)]
            if isinstance(v, LLMFailure):
                self.reject(s, f"judge: request failed: {v}")
                continue
            maybe_true = [i for i, false in enumerate(v, start=1) if not false]
            if maybe_true:
                self.reject(s, "judge: distractor(s) possibly true for the region: "
                               + "; ".join(f"{i} {s.candidates[i].text!r}" for i in maybe_true))
                continue
            out.append(s)
        return out

    async def ask(self, client: LLMClient, s: Sample):
        model = _reply_model(len(s.candidates) - 1)
        try:
            comp = await client.complete(judge_messages(s), model, prompt_id=f"{PROMPT}:{_prompt()[1]}")
        except LLMFailure as e:
            return e
        return list(comp.data["false_for_region"])
