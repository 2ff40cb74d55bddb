"""WordNet access (via nltk) and the bundled vocabularies.

WordNet data is looked up where nltk looks (``NLTK_DATA``, ``~/nltk_data``...).
Install it with ``python -m nltk.downloader wordnet`` or, offline on Debian,
``python tools/install_wordnet.py`` (what ``make`` does).
"""

from __future__ import annotations

import functools
from importlib import resources

#: Lexicographer files of concrete nouns: swaps are drawn from these senses only.
CONCRETE_LEXNAMES = frozenset(
    {"noun.artifact", "noun.animal", "noun.body", "noun.food", "noun.object", "noun.plant",
     "noun.person", "noun.substance", "noun.location"}
)


class WordNetMissing(RuntimeError):
    pass


@functools.cache
def wordnet():
    """The nltk WordNet reader, loaded once; a clear error when the data is missing."""
    from nltk.corpus import wordnet as wn

    try:
        wn.ensure_loaded()
    except LookupError as e:
        raise WordNetMissing(
            "WordNet data not found. Install it with `python -m nltk.downloader wordnet` "
            "(or offline on Debian: `python tools/install_wordnet.py`) and point NLTK_DATA at it."
        ) from e
    return wn


def after_fork() -> None:
    """Give this process its own WordNet file handles.

    nltk keeps one open handle per data file and seeks on it; a forked worker would
    share the parent's file offsets, and workers reading at once corrupt each
    other's reads (seen as different swaps with 2 workers). Call in each worker."""
    if wordnet.cache_info().currsize:
        reader = wordnet()
        reader._data_file_map = {}
        for attr in ("_key_count_file", "_key_synset_file"):
            if hasattr(reader, attr):
                setattr(reader, attr, None)


def key(word: str) -> str:
    """WordNet lemma key of a surface word: ``teddy bear`` -> ``teddy_bear``."""
    return "_".join(word.strip().lower().split())


def surface(lemma: str) -> str:
    return lemma.replace("_", " ")


@functools.cache
def noun_synsets(word: str) -> tuple:
    return tuple(wordnet().synsets(key(word), pos="n"))


def is_noun(word: str) -> bool:
    return bool(noun_synsets(word))


@functools.lru_cache(maxsize=65536)
def concrete_synsets(word: str) -> tuple:
    return tuple(s for s in noun_synsets(word) if s.lexname() in CONCRETE_LEXNAMES)


@functools.cache
def _ancestors(synset) -> frozenset:
    return frozenset(synset.closure(lambda s: s.hypernyms() + s.instance_hypernyms()))


@functools.lru_cache(maxsize=262144)
def lexical_relation(a: str, b: str) -> str | None:
    """How noun ``b`` relates to noun ``a`` over *any* of their noun senses:
    ``same`` (same word), ``synonym``, ``hypernym`` (b is more general than a),
    ``hyponym`` (b is more specific), or None."""
    if key(a) == key(b):
        return "same"
    sa, sb = noun_synsets(a), noun_synsets(b)
    for x in sa:
        for y in sb:
            if x == y:
                return "synonym"
    for x in sa:
        for y in sb:
            if y in _ancestors(x):
                return "hypernym"
            if x in _ancestors(y):
                return "hyponym"
    return None


def _ancestor_depths(synset, max_depth: int) -> dict:
    depths = {synset: 0}
    level = [synset]
    for d in range(1, max_depth + 1):
        level = [h for x in level for h in x.hypernyms() + x.instance_hypernyms()]
        for h in level:
            depths.setdefault(h, d)
    return depths


@functools.lru_cache(maxsize=262144)
def cousin_depth(a: str, b: str, max_depth: int = 4, senses: int | None = None) -> int | None:
    """The smallest k <= max_depth such that concrete senses of a and b share a
    hypernym at most k levels above each; None when they share none that close.
    ``senses``: only the first N concrete senses of each word (the common ones) count."""
    best = None
    for x in concrete_synsets(a)[:senses]:
        dx = _ancestor_depths(x, max_depth)
        for y in concrete_synsets(b)[:senses]:
            for h, d in _ancestor_depths(y, max_depth).items():
                if h in dx:
                    k = max(d, dx[h])
                    best = k if best is None else min(best, k)
    return best


@functools.lru_cache(maxsize=65536)
def lemma_count(word: str) -> int:
    """SemCor frequency of the word as a noun (a rough commonness score)."""
    k = key(word)
    return sum(l.count() for s in noun_synsets(word) for l in s.lemmas() if l.name().lower() == k)


@functools.lru_cache(maxsize=65536)
def co_hyponyms(word: str, depth: int = 2) -> list[str]:
    """Sister terms of the word's concrete senses: hyponyms of its hypernyms (up to
    ``depth`` levels up), as surface words, in a stable order."""
    out: dict[str, None] = {}
    for s in concrete_synsets(word)[:2]:
        level = [s]
        for _ in range(depth):
            level = [h for x in level for h in x.hypernyms()]
            for h in level:
                for c in h.hyponyms():
                    if c.lexname() not in CONCRETE_LEXNAMES:
                        continue
                    for l in c.lemmas()[:2]:
                        out.setdefault(surface(l.name()), None)
    return list(out)


def _read_lines(name: str) -> list[str]:
    text = resources.files("scar.data").joinpath(name).read_text(encoding="utf-8")
    return [ln for ln in (x.strip() for x in text.splitlines()) if ln and not ln.startswith("#")]


@functools.cache
def common_objects() -> frozenset[str]:
    """Bundled vocabulary of common concrete objects (swaps from it rank first)."""
    return frozenset(_read_lines("objects.txt"))


@functools.cache
def scenes() -> dict[str, str]:
    """Bundled scene vocabulary: scene noun -> surface phrase (``kitchen`` -> ``in a kitchen``)."""
    out = {}
    for ln in _read_lines("scenes.tsv"):
        noun, phrase = ln.split("\t")
        out[noun] = phrase
    return out


def scene_phrase(noun: str) -> str:
    noun = noun.strip().lower().replace("_", " ")
    if noun in scenes():
        return scenes()[noun]
    article = "an" if noun[:1] in "aeiou" else "a"
    return f"in {article} {noun}"


#: The category vocabulary of each ``--source`` (files under ``scar/data/vocab/``): the last
#: widening tier of the object swaps. Sources not listed use only the bundled ``objects.txt``.
SOURCE_VOCABULARIES = {
    "refcoco+": ("coco.txt",),
    "refcocog": ("coco.txt",),
    "coco": ("coco.txt",),
    "coco-stuff": ("coco.txt", "coco_stuff.txt"),
    "ade20k": ("ade20k.txt",),
    "visualgenome": ("visualgenome.txt",),
}


@functools.cache
def source_vocabulary(source: str) -> frozenset[str]:
    """The category names of a source (lower case, plain words)."""
    words: set[str] = set()
    for name in SOURCE_VOCABULARIES.get(source, ()):
        words.update(w.lower() for w in _read_lines(f"vocab/{name}"))
    return frozenset(words)
