"""The LLM step of the ``openai`` and ``local`` generators.

One structured request per sample that needs one, all samples of a window concurrently
(the build hands this step ``window`` images at a time):

- ``swaps=False`` (mixed mode, ``--complete-only``): only samples with a missing element,
  asking for the missing elements only; the lexical step writes the swaps;
- ``swaps=True``: every sample, asking for the missing elements and the 9 swaps.

Elements from the reply have provenance ``llm:<model>``. A reply is checked
(``prompting.check_*``) before it is used or cached; a sample whose request fails (after
the retries) is rejected with the reason (``llm: invalid_content: ...``) and never
reaches the output.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from scar import lexicon
from scar.build.llm import prompting
from scar.build.llm.base import LLMBackedStep, run_coro
from scar.build.steps import predicates, relations
from scar.build.steps.compose import compose_text, missing
from scar.build.steps.lexical import replace
from scar.build.llm.client import Budget, LLMClient, LLMConfig, LLMFailure
from scar.build.steps.parse import _longest_noun
from scar.types import Candidate, Element, Sample
from scar.errors import MissingExtra

log = logging.getLogger(__name__)


__all__ = ["LLMStep", "run_coro"]


class LLMStep(LLMBackedStep):
    name = "llm"

    def __init__(self, config: LLMConfig, *, swaps: bool, vision: bool = False, closed_scenes: bool = False,
                 server=None, prompt_version: str = "v1", min_relation_alternatives: int = 3,
                 budget: Budget | None = None) -> None:
        super().__init__(config, budget=budget, server=server)
        if config.base_url is None and server is None and not (config.api_key or os.environ.get("OPENAI_API_KEY")):
            raise MissingExtra("the openai generator needs an API key in OPENAI_API_KEY (or --llm-base-url for a "
                               "local OpenAI-compatible server)")
        self.swaps = swaps
        self.vision = vision
        self.closed_scenes = closed_scenes
        self.prompt = prompting.load_prompt("generate" if swaps else "complete", prompt_version)
        self.min_relation_alternatives = min_relation_alternatives

    @property
    def provenance(self) -> str:
        return f"llm:{self.config.model}"

    def info(self) -> dict[str, Any]:
        """What the dataset card records about the LLM path."""
        return {"model": self.config.model, "prompt": self.prompt.id, "prompt_sha256": self.prompt.sha256[:16],
                "mode": "complete+swaps" if self.swaps else "complete-only", "json_mode": self.config.json_mode,
                "vision": self.vision, "closed_scenes": self.closed_scenes, "temperature": self.config.temperature,
                "max_cost_usd": self.config.max_cost, "local_server": self.server is not None}

    def wanted(self, samples: list[Sample]) -> list[Sample]:
        return [s for s in samples if self.swaps or missing(s)]

    def finish(self, samples: list[Sample], results: dict[int, Any]) -> list[Sample]:
        out = []
        for s in samples:
            res = results.get(id(s), True)
            if isinstance(res, LLMFailure):
                self.reject(s, f"llm: {res}")
                continue
            if res is not True:
                self._apply(s, *res)
            out.append(s)
        return out

    async def ask(self, client: LLMClient, s: Sample):
        wanted = missing(s)
        image = None
        if self.vision and s.context is not None:
            image = prompting.region_image_url(s.context.path, s.region.bbox)
        msgs = prompting.messages(self.prompt, s, wanted, image_url=image)
        model = prompting.reply_model(wanted, swaps=self.swaps, closed_scenes=self.closed_scenes)
        try:
            comp = await client.complete(msgs, model, prompt_id=f"{self.prompt.id}:{self.prompt.sha256}",
                                         validate=lambda d: self._interpret(s, d))
        except LLMFailure as e:
            return e
        return self._interpret(s, comp.data)

    def _interpret(self, s: Sample, data: dict[str, Any]):
        """Elements and swaps of a reply; InvalidReply when they cannot be used."""
        prov = self.provenance
        el: dict[str, Element] = {}
        if "object" in data:
            noun = prompting.check_noun("object", data["object"])
            el["object"] = Element(noun, prov, value=noun)
        if "relation" in data:
            text, head = prompting.check_relation("relation", data["relation"])
            anchor = None
            rest = text[len(head):].split()
            noun = _longest_noun([w for w in rest if w not in ("the", "a", "an")])
            if noun and s.context is not None:
                target = next((e for e in s.context.entities if e.id == s.region.entity_id), None)
                hit = relations.anchor_entity(s.context, noun, target, s.region.bbox)
                anchor = hit.id if hit is not None else None
                if hit is None and s.context.entities and text not in relations.FRAME_PHRASES:
                    raise prompting.InvalidReply(f"relation {text!r} is about {noun!r}, which is not among the "
                                                 "objects of the image")
            el["relation"] = Element(text, prov, value=predicates.norm(head), anchor=anchor)
            if not self.swaps and len(relations.alternatives(el["relation"], s)) < self.min_relation_alternatives:
                raise prompting.InvalidReply(f"relation {text!r} has fewer than {self.min_relation_alternatives} "
                                             "known false alternatives")
        if "scene" in data:
            noun = prompting.check_scene("scene", data["scene"])
            el["scene"] = Element(lexicon.scene_phrase(noun), prov, value=noun)
        swaps = None
        if self.swaps:
            get = lambda n: el.get(n) or getattr(s, n)  # noqa: E731
            gt = {"object": get("object").value or get("object").text, "relation": get("relation").text,
                  "scene": get("scene").value or get("scene").text}
            swaps = prompting.check_swaps(gt, data)
        return el, swaps

    def _apply(self, s: Sample, el: dict[str, Element], swaps: dict[str, list[str]] | None) -> None:
        for name, e in el.items():
            setattr(s, name, e)
        s.candidates = [Candidate(compose_text(s))]
        if swaps:
            s.candidates += [replace(s, "object", w) for w in swaps["object"]]
            s.candidates += [replace(s, "relation", t) for t in swaps["relation"]]
            s.candidates += [replace(s, "scene", lexicon.scene_phrase(n)) for n in swaps["scene"]]
