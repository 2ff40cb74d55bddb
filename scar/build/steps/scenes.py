"""Scene grounding for images without a scene label.

Two documented vote tables in ``scar/data/``:

- ``stuff_scenes.tsv``: COCO-Stuff stuff classes -> scene votes. The stuff classes are
  annotations, so a scene decided by them has provenance ``annotation``.
- ``object_scenes.tsv``: object categories -> scene votes, used by the lexical backend
  (provenance ``lexical``): each distinct category of the image votes once.

A table decides a scene when the best scene has at least ``MIN_VOTES`` (stuff) or
``OBJECT_MIN_VOTES`` (objects) and at least ``MARGIN`` times the runner-up's votes; otherwise
it decides nothing. Scenes that get any vote from the image are also kept out of the scene
swaps (they may be true).

Evidence levels (:func:`choose`): a specific scene when stuff or objects decide one; else only
the kind, ``indoors``/``outdoors``, when the place cues (``place_cues.tsv``: sky, road, field
animals -> outdoor; furniture, appliances -> indoor) decide it; else no scene (abstain, with
the reason). Scene swaps (:func:`swaps`) are false for the picture and never ruled out by the
caption's own words: other scenes of a specific scene's kind that the evidence gives no vote;
for ``indoors``/``outdoors``, scenes of the other kind.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

from scar import lexicon

MIN_VOTES = 1.5
MARGIN = 1.5
#: Object votes decide a specific scene only with at least this many (one object that almost only
#: occurs there, or two typical ones); weaker evidence says at most indoors or outdoors.
OBJECT_MIN_VOTES = 2.0
#: ... and one object alone must vote this much for the scene (it almost only occurs there).
SIGNATURE = 2.0
#: Place cues of one kind must sum to this, with none of the other kind, to decide indoors/outdoors.
KIND_MIN = 1.0
#: Cues of both kinds: one kind still wins when the other has only weak cues (weight < 1: a book, a
#: bicycle, seen in both kinds of place) and the winner's sum is at least this many times theirs
#: (a bus, two cars and a traffic light outweigh a book).
OUTWEIGH = 4.0
#: The generic scenes, by kind, and their caption text (``<object> <relation> indoors``).
GENERIC = {"indoor": "indoors", "outdoor": "outdoors"}


def _load(name: str) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for i, ln in enumerate(lexicon._read_lines(name), 1):
        cols = ln.split("\t")
        if len(cols) != 2:
            raise ValueError(f"scar/data/{name}: data line {i} has {len(cols)} columns, expected 2: {ln!r}")
        votes = {}
        for part in cols[1].split(";"):
            scene, _, w = part.strip().rpartition(":")
            try:
                votes[scene.strip()] = float(w)
            except ValueError as e:
                raise ValueError(f"scar/data/{name}: data line {i}: bad vote {part!r} (want scene:weight)") from e
        out[cols[0].strip().lower()] = votes
    return out


@functools.cache
def stuff_table() -> dict[str, dict[str, float]]:
    return _load("stuff_scenes.tsv")


@functools.cache
def object_table() -> dict[str, dict[str, float]]:
    return _load("object_scenes.tsv")


def stuff_key(name: str) -> str:
    """``"grass-merged"`` -> ``"grass"``; ``"sky-other"`` -> ``"sky"``; other names lower-cased."""
    n = name.strip().lower()
    for suffix in ("-merged", "-other"):
        if n.endswith(suffix):
            n = n[: -len(suffix)]
    return n


def votes(labels: Iterable[str], table: dict[str, dict[str, float]], key=lambda s: s.strip().lower()) -> dict[str, float]:
    """Summed votes of the distinct labels."""
    out: dict[str, float] = {}
    for lab in sorted({key(x) for x in labels}):
        for scene, w in table.get(lab, {}).items():
            out[scene] = out.get(scene, 0.0) + w
    return out


def decide(v: dict[str, float], min_votes: float = MIN_VOTES) -> str | None:
    """The winning scene of a vote count, or None when no scene wins clearly."""
    if not v:
        return None
    ranked = sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))
    best, score = ranked[0]
    runner = ranked[1][1] if len(ranked) > 1 else 0.0
    if score >= min_votes and score >= MARGIN * runner and score > runner:
        return best
    return None


def from_stuff(stuff: Iterable[str]) -> str | None:
    return decide(votes(stuff, stuff_table(), stuff_key))


def from_objects(categories: Iterable[str]) -> str | None:
    """The specific scene the object categories decide decisively, or None: the votes decide it
    (``OBJECT_MIN_VOTES``, ``MARGIN``) and one of the objects is a signature of it (a vote of at
    least ``SIGNATURE`` alone: an oven for a kitchen, skis for a ski slope). Several typical
    objects (a laptop and a mouse; a car and a truck) say "indoors"/"outdoors", not which room or
    street (a home desk is no office; a country road is no street)."""
    table = object_table()
    noun = decide(votes(categories, table), OBJECT_MIN_VOTES)
    if noun is None:
        return None
    signed = any(table.get(c.strip().lower(), {}).get(noun, 0.0) >= SIGNATURE for c in categories)
    return noun if signed else None


def evidence(categories: Iterable[str], stuff: Iterable[str]) -> set[str]:
    """Every scene that the image's objects or stuff vote for at all."""
    return set(votes(categories, object_table())) | set(votes(stuff, stuff_table(), stuff_key))


@functools.cache
def place_weights() -> dict[str, tuple[str, float]]:
    """Category or stuff name -> (``indoor``/``outdoor``, weight) (``place_cues.tsv``)."""
    return {k: (kind, w) for k, (kind, w, _) in _place_rows().items()}


@functools.cache
def _place_rows() -> dict[str, tuple[str, float, frozenset[str]]]:
    out = {}
    for i, ln in enumerate(lexicon._read_lines("place_cues.tsv"), 1):
        cols = [c.strip() for c in ln.split("\t")]
        try:
            weight = float(cols[2]) if len(cols) in (3, 4) else None
        except ValueError:
            weight = None
        housed = frozenset(x.strip() for x in cols[3].split(";") if x.strip()) if len(cols) == 4 else frozenset()
        if (len(cols) not in (3, 4) or cols[1] not in ("indoor", "outdoor") or weight is None or weight <= 0
                or not housed <= set(lexicon.scenes())):
            raise ValueError(f"scar/data/place_cues.tsv: data line {i}: want name <TAB> indoor|outdoor <TAB> "
                             f"weight > 0 [<TAB> scene;scene of the vocabulary]: {ln!r}")
        out[cols[0].lower()] = (cols[1], weight, housed)
    return out


def place_cues() -> dict[str, str]:
    """Category or stuff name -> ``indoor``/``outdoor`` (``place_cues.tsv``)."""
    return {k: kind for k, (kind, _) in place_weights().items()}


def _cue(name: str, is_stuff: bool) -> tuple[str, float] | None:
    table = place_weights()
    n = stuff_key(name) if is_stuff else name.strip().lower()
    if n in table:
        return table[n]
    return table.get(n.split("-")[0]) if is_stuff else None


def kind_cues(categories: Iterable[str], stuff: Iterable[str] = ()) -> dict[str, dict[str, float]]:
    """``{"indoor": {name: weight}, "outdoor": {...}}``: the image's distinct categories and
    stuff classes that say which kind of place the picture shows."""
    out: dict[str, dict[str, float]] = {"indoor": {}, "outdoor": {}}
    for names, is_stuff in ((categories, False), (stuff, True)):
        for n in sorted({x.strip().lower() for x in names}):
            cue = _cue(n, is_stuff)
            if cue is not None:
                out[cue[0]][stuff_key(n) if is_stuff else n] = cue[1]
    return out


def kind_of(scene: str) -> str | None:
    """``indoor``/``outdoor`` for a generic scene or a scene of the bundled vocabulary."""
    s = scene.strip().lower()
    return s if s in GENERIC else lexicon.scene_kind(s)


def kind_conflict(scene: str, categories: Iterable[str], stuff: Iterable[str] = ()) -> str | None:
    """The first of the image's categories or stuff classes that says the picture is of the other
    kind (indoor/outdoor) than ``scene``, or None."""
    kind = kind_of(scene)
    if kind is None:
        return None
    other = kind_cues(categories, stuff)["outdoor" if kind == "indoor" else "indoor"]
    return min(other) if other else None


def decide_kind(categories: Iterable[str], stuff: Iterable[str] = ()) -> tuple[str | None, str]:
    """(``indoor``/``outdoor``, the cues that decide it) when the image's cues of one kind sum to
    at least ``KIND_MIN`` and it has none of the other kind, or only weak ones that it outweighs
    (``OUTWEIGH``); else (None, why not)."""
    cues = kind_cues(categories, stuff)
    if cues["indoor"] and cues["outdoor"]:
        for kind, other in (("indoor", "outdoor"), ("outdoor", "indoor")):
            won, lost = sum(cues[kind].values()), sum(cues[other].values())
            if won >= KIND_MIN and max(cues[other].values()) < 1.0 and won >= OUTWEIGH * lost:
                return kind, (f"{', '.join(sorted(cues[kind]))} outweigh the weak {other} cue"
                              f"{'s' if len(cues[other]) > 1 else ''} {', '.join(sorted(cues[other]))}")
        return None, f"indoor cues {sorted(cues['indoor'])} and outdoor cues {sorted(cues['outdoor'])} disagree"
    for kind in ("indoor", "outdoor"):
        if sum(cues[kind].values()) >= KIND_MIN:
            return kind, ", ".join(sorted(cues[kind]))
    weak = sorted(cues["indoor"]) + sorted(cues["outdoor"])
    return None, f"only weak place cues {weak}" if weak else "no indoor or outdoor cue"


@dataclass(frozen=True)
class Choice:
    """A scene chosen from evidence: ``noun`` (a scene of the bundled vocabulary, or ``indoor``/
    ``outdoor``), its ``text`` in a caption, its ``provenance``; or no noun and ``reason``."""

    noun: str | None
    provenance: str = ""
    reason: str = ""

    @property
    def text(self) -> str | None:
        if self.noun is None:
            return None
        return GENERIC.get(self.noun) or lexicon.scene_phrase(self.noun)


def choose(categories: Iterable[str], stuff: Iterable[str] = (), *, infer: bool = True) -> Choice:
    """The scene of an image without a scene label, from the strongest evidence that decides one:

    1. the stuff classes decide a specific scene (``stuff_scenes.tsv``) [annotation];
    2. with ``infer``, the object categories decide a specific scene decisively
       (``object_scenes.tsv``: at least ``OBJECT_MIN_VOTES`` and ``MARGIN`` times the runner-up)
       [lexical];
    3. the indoor/outdoor cues decide only the kind (``place_cues.tsv``): ``indoors`` or
       ``outdoors`` [annotation when the stuff alone decides it, else lexical];
    4. nothing decides: no scene, with the reason (abstention).

    A specific scene is never chosen against a cue of the other kind; the kind alone is then
    undecided too, so the image abstains."""
    categories = [c for c in categories]
    stuff = [x for x in stuff]
    if not infer:
        categories_for_kind: list[str] = []
    else:
        categories_for_kind = categories
    tried = []
    specific = [("annotation", from_stuff(stuff) if stuff else None)]
    if infer:
        specific.append(("lexical", from_objects(categories)))
    for prov, noun in specific:
        if noun is None:
            continue
        clash = kind_conflict(noun, categories_for_kind, stuff)
        if clash is None:
            return Choice(noun, prov)
        tried.append(f"{noun!r} is {lexicon.scene_kind(noun)} but the image has {clash!r}")
    kind, why = decide_kind(categories_for_kind, stuff)
    if kind is not None:
        by_stuff = decide_kind([], stuff)[0] == kind
        return Choice(kind, "annotation" if by_stuff else "lexical", why)
    what = "stuff and object categories decide none" if infer else "stuff classes decide none"
    detail = "; ".join([*tried, why])
    return Choice(None, reason=f"the image has no scene label ({what}: {detail}; abstained)")


#: Outdoor scenes of open nature (and farmland): a bed, a toilet, an oven or a tv there is
#: ruled out by the caption itself, while a street or a yard is merely false for the picture.
NATURAL_OUTDOOR = frozenset({"beach", "field", "forest", "desert", "mountain", "river", "lake", "snowfield",
                             "ski slope", "farm"})


def ruled_out_by(name: str) -> frozenset[str]:
    """The scenes a caption naming ``name`` (its subject or anchor) rules out by itself: a decisive
    (weight 1) outdoor cue rules out every indoor scene (a zebra, the sky in a kitchen) but those
    where it is also kept (a car in a garage: possible, and false for a picture outdoors); an
    indoor stuff cue (ceiling, floor, carpet...) every outdoor scene; an indoor thing (bed, oven,
    tv...) the outdoor scenes of open nature."""
    cue = _place_rows().get(name.strip().lower())
    if cue is None or cue[1] < 1.0:
        return frozenset()
    kind, _, housed = cue
    if kind == "outdoor":
        return frozenset(s for s in lexicon.scenes() if lexicon.scene_kind(s) == "indoor") - housed
    if name.strip().lower() in indoor_stuff():
        return frozenset(s for s in lexicon.scenes() if lexicon.scene_kind(s) == "outdoor")
    return NATURAL_OUTDOOR & frozenset(lexicon.scenes())


def shortage(gt: str, caption_categories: Iterable[str]) -> str:
    """Why a generic scene has few swaps, for the reject reason: the caption's own words that rule
    the other kind's scenes out (``": the caption's 'zebra' rules out 15 of 15 indoor scenes"``)."""
    gt = gt.strip().lower()
    if gt not in GENERIC:
        return ""
    other = "outdoor" if gt == "indoor" else "indoor"
    pool = {s for s in lexicon.scenes() if lexicon.scene_kind(s) == other}
    parts = [f"{c!r} rules out {len(pool & ruled_out_by(c))} of {len(pool)} {other} scenes"
             for c in sorted({c.strip().lower() for c in caption_categories}) if pool & ruled_out_by(c)]
    return f": the caption's {'; '.join(parts)}" if parts else ""


@functools.cache
def indoor_stuff() -> frozenset[str]:
    """The indoor cues of ``place_cues.tsv``'s stuff section (fixtures of a room, never outdoors)."""
    text = resources.files("scar.data").joinpath("place_cues.tsv").read_text(encoding="utf-8")
    section, out = "", set()
    for ln in text.splitlines():
        if ln.startswith("# --"):
            section = ln[4:].strip()
        elif ln.strip() and not ln.startswith("#") and section == "indoor: stuff":
            out.add(ln.split("\t")[0].strip().lower())
    return frozenset(out)


def swaps(gt: str, categories: Iterable[str] = (), stuff: Iterable[str] = (),
          caption_categories: Iterable[str] = ()) -> list[str]:
    """Scene swaps (scene nouns) that are false for the picture and not ruled out by the caption itself.

    - a specific scene: the other scenes of its kind (indoor/outdoor, so the caption's own objects
      never rule them out) that the image's objects and stuff give no vote, never near the GT scene;
    - ``indoor``/``outdoor``: the scenes of the other kind, but none that the caption's own subject
      or anchor rules out (:func:`ruled_out_by`: a zebra rules out every indoor scene, so "zebra
      ... outdoors" has no scene swap and the sample is dropped with the reason)."""
    gt = gt.strip().lower()
    if gt in GENERIC:
        other = "outdoor" if gt == "indoor" else "indoor"
        ruled = frozenset().union(*(ruled_out_by(c) for c in caption_categories))
        return [s for s in lexicon.scenes() if lexicon.scene_kind(s) == other and s not in ruled]
    evidence_ = evidence(categories, stuff)
    kind = lexicon.scene_kind(gt)
    return [s for s in lexicon.scenes()
            if s != gt and s not in evidence_ and (kind is None or lexicon.scene_kind(s) == kind)
            and not lexicon.near(gt, s)]
