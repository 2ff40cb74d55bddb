"""Prompts, reply schemas and reply validation of the LLM generators.

Prompts are versioned files under ``prompts/`` (``<name>-v<N>.txt``, sections ``### name``,
``$placeholders``). The reply schema of a request is a pydantic model built for what the
sample lacks (JSON schema sent to the endpoint for constrained decoding, and used to parse
the reply). ``check_reply`` then checks the meaning: nouns are WordNet nouns, relations
start with a known relation phrase, object swaps are never a synonym/hypernym/hyponym of
the object, relation swaps never a paraphrase, scene swaps not related to the scene, all
candidates distinct. A reply that fails is retried, then the sample is quarantined.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import re
import string
from dataclasses import dataclass
from importlib import resources
from typing import Any

from scar import lexicon
from scar.build.steps import predicates, relations, scenes, spatial
from scar.types import Sample

NOUN_PATTERN = r"^[a-z]{1,15}(?: [a-z]{1,15}){0,2}$"
#: Scene words that name no kind of place.
GENERIC_SCENES = frozenset({"scene", "place", "location", "area", "setting", "image", "picture", "photo",
                            "photograph", "background", "foreground", "view", "space", "thing", "object"})
_ARTICLE = re.compile(r"^(?:the|a|an)\s+")


class InvalidReply(ValueError):
    """A reply that parses but says something the benchmark cannot use."""


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    sections: dict[str, str]
    sha256: str

    @property
    def id(self) -> str:
        return f"{self.name}-{self.version}"

    def section(self, key: str, **values: Any) -> str:
        return string.Template(self.sections[key]).substitute(values).strip()


@functools.cache
def load_prompt(name: str, version: str = "v1") -> Prompt:
    fname = f"{name}-{version}.txt"
    try:
        text = resources.files("scar.build.llm").joinpath("prompts", fname).read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ValueError(f"no prompt file prompts/{fname} in scar/build/generate") from e
    sections: dict[str, list[str]] = {}
    cur = None
    for ln in text.splitlines():
        if ln.startswith("### "):
            cur = ln[4:].strip()
            sections[cur] = []
        elif cur is not None:
            sections[cur].append(ln)
        elif ln.strip() and not ln.startswith("#"):
            raise ValueError(f"prompts/{fname}: text before the first '### section' line: {ln!r}")
    for need in ("system", "user", "object", "relation", "scene"):
        if need not in sections:
            raise ValueError(f"prompts/{fname}: missing section '### {need}'")
    return Prompt(name, version, {k: "\n".join(v) for k, v in sections.items()},
                  hashlib.sha256(text.encode()).hexdigest())


#: The relation phrases a prompt lists (the reply schema accepts every one in ``relation_heads``).
PROMPT_HEADS = ("on", "under", "next to", "behind", "in front of", "above", "inside", "near", "holding", "wearing",
                "riding", "sitting on", "standing on")


@functools.cache
def relation_heads() -> tuple[str, ...]:
    """Relation phrases an LLM relation may start with: those with 3 known false alternatives."""
    heads = {p.surface for p in predicates.table().values() if len(p.contradictions) >= 3}
    heads |= {r.phrase for r in spatial.PAIRWISE if r.phrase in heads}
    return tuple(sorted(heads, key=lambda h: (-len(h), h)))


def relation_pattern(any_known: bool = False) -> str:
    """The reply pattern of a relation: one of ``relation_heads()`` (or, for swaps, any
    known relation phrase) and what it points at, or a frame relation."""
    known = predicates._known_heads() if any_known else relation_heads()
    heads = "|".join(re.escape(h) for h in known)
    frames = "|".join(re.escape(f) for f in sorted(relations.FRAME_PHRASES))
    return rf"^(?:(?:{heads}) (?:the |a |an )?[a-z]{{1,15}}(?: [a-z]{{1,15}}){{0,2}}|{frames})$"


def reply_model(wanted: list[str], *, swaps: bool, closed_scenes: bool = False):
    """The pydantic model of a reply giving ``wanted`` elements (and the 9 swaps)."""
    return _reply_model(tuple(wanted), swaps, closed_scenes)


@functools.cache
def reply_schema(model) -> dict[str, Any]:
    """The JSON schema of a reply model (built once per model)."""
    return model.model_json_schema()


@functools.cache
def _reply_model(wanted: tuple[str, ...], swaps: bool, closed_scenes: bool):
    from typing import Annotated, Literal

    from pydantic import ConfigDict, Field, create_model

    noun = Annotated[str, Field(pattern=NOUN_PATTERN)]
    scene = Literal[tuple(sorted(lexicon.scenes()))] if closed_scenes else noun
    rel = Annotated[str, Field(pattern=relation_pattern())]
    types = {"object": noun, "relation": rel, "scene": scene}
    fields: dict[str, Any] = {w: (types[w], ...) for w in wanted}
    if swaps:
        three = dict(min_length=3, max_length=3)
        fields["object_swaps"] = (Annotated[list[noun], Field(**three)], ...)
        any_rel = Annotated[str, Field(pattern=relation_pattern(any_known=True))]
        fields["relation_swaps"] = (Annotated[list[any_rel], Field(**three)], ...)
        fields["scene_swaps"] = (Annotated[list[scene], Field(**three)], ...)
    return create_model("ScarReply", __config__=ConfigDict(extra="forbid"), **fields)


def _describe(bbox, w: int, h: int) -> str:
    b = spatial.Box.of(bbox)
    horiz = "left" if b.cx < w / 3 else ("right" if b.cx > 2 * w / 3 else "middle")
    vert = "top" if b.cy < h / 3 else ("bottom" if b.cy > 2 * h / 3 else "middle")
    return "center" if horiz == vert == "middle" else f"{vert} {horiz}"


def messages(prompt: Prompt, s: Sample, wanted: list[str], *, image_url: str | None = None,
             max_others: int = 8) -> list[dict[str, Any]]:
    ctx = s.context
    region = f"a {s.region.category}" + (f' ("{s.phrase}")' if s.phrase else "") + \
        f" in the {_describe(s.region.bbox, s.width, s.height)} of the photo"
    others = []
    for e in (ctx.entities if ctx else []):
        if e.id != s.region.entity_id and relations.entity_name(e) and len(others) < max_others:
            others.append(f"{relations.entity_name(e)} ({_describe(e.bbox, s.width, s.height)})")
    known = "; ".join(f'{n} = "{getattr(s, n).text}"' for n in ("object", "relation", "scene")
                      if getattr(s, n) is not None) or "none"
    guidance = "\n".join(prompt.section(w, heads=", ".join(PROMPT_HEADS),
                                        frames=", ".join(sorted(relations.FRAME_PHRASES))) for w in wanted)
    user = prompt.section("user", region=region, others=", ".join(others) or "none", known=known,
                          wanted=" and ".join(f'"{w}"' for w in wanted) or "nothing new",
                          guidance=guidance, heads=", ".join(PROMPT_HEADS))
    content: Any = user
    if image_url:
        content = [{"type": "text", "text": user}, {"type": "image_url", "image_url": {"url": image_url}}]
    return [{"role": "system", "content": prompt.section("system")}, {"role": "user", "content": content}]


def region_image_url(path: str, bbox, max_side: int = 768) -> str:
    """The image with the region's box drawn in red, as a JPEG data URL (for vision models)."""
    from PIL import Image, ImageDraw

    with Image.open(path) as im:
        im = im.convert("RGB")
        x, y, w, h = bbox
        ImageDraw.Draw(im).rectangle([x, y, x + w, y + h], outline=(255, 0, 0), width=max(2, round(max(im.size) / 200)))
        im.thumbnail((max_side, max_side))
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def clean_noun(text: str) -> str:
    return _ARTICLE.sub("", " ".join(text.lower().split()))


def check_noun(what: str, text: str) -> str:
    word = clean_noun(text)
    if sum(ch.isalpha() for ch in word) < 2:  # "b", "o": WordNet nouns (vitamin B, oxygen), never an object
        raise InvalidReply(f"{what} {text!r} is too short to name a thing")
    if not lexicon.is_noun(word):
        raise InvalidReply(f"{what} {text!r} is not a WordNet noun")
    return word


def check_scene(what: str, text: str) -> str:
    word = check_noun(what, text)
    if word in GENERIC_SCENES:
        raise InvalidReply(f"{what} {text!r} names no kind of place")
    return word


def check_relation(what: str, text: str) -> tuple[str, str]:
    t = " ".join(text.lower().split())
    split = predicates.split_relation(t)
    if split is None or (split[1] == "" and t not in relations.FRAME_PHRASES):
        raise InvalidReply(f"{what} {text!r} does not start with a known relation phrase")
    return t, split[0]


def check_swaps(gt: dict[str, str], reply: dict[str, Any]) -> dict[str, list[str]]:
    """Object, relation and scene swaps of a reply, checked against the GT elements'
    values (``object``: noun, ``relation``: text, ``scene``: noun)."""
    out: dict[str, list[str]] = {}
    objs = [check_noun("object swap", w) for w in reply["object_swaps"]]
    for w in objs:
        rel = lexicon.lexical_relation(gt["object"], w)
        if rel is not None:
            raise InvalidReply(f"object swap {w!r} is a {rel} of the object {gt['object']!r} in WordNet")
    out["object"] = objs
    gt_head = predicates.split_relation(gt["relation"])
    rels = []
    for r in reply["relation_swaps"]:
        t, head = check_relation("relation swap", r)
        if gt_head is not None and predicates.is_paraphrase(gt_head[0], head):
            raise InvalidReply(f"relation swap {r!r} paraphrases the relation {gt['relation']!r}")
        rels.append(t)
    out["relation"] = rels
    scs = [check_scene("scene swap", w) for w in reply["scene_swaps"]]
    for w in scs:
        if gt["scene"] in scenes.GENERIC:  # only the kind is known: a scene of the same kind may be true
            other = "outdoor" if gt["scene"] == "indoor" else "indoor"
            if lexicon.scene_kind(w) != other:
                raise InvalidReply(f"scene swap {w!r} may be true: the picture is only known to be {gt['scene']}, "
                                   f"so a scene swap must be an {other} scene of the vocabulary")
        rel = lexicon.lexical_relation(gt["scene"], w)
        if rel is not None:
            raise InvalidReply(f"scene swap {w!r} is a {rel} of the scene {gt['scene']!r} in WordNet")
    out["scene"] = scs
    for k, vals in out.items():
        if len({v for v in vals} | {gt[k]}) != len(vals) + 1:
            raise InvalidReply(f"{k} swaps {vals} repeat each other or the ground truth")
    return out
