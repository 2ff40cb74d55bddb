"""WordNet access (via nltk) and the bundled vocabularies.

WordNet data is looked up where nltk looks (``NLTK_DATA``, ``~/nltk_data``...).
Install it with ``python -m nltk.downloader wordnet`` or, offline on Debian,
``python tools/install_wordnet.py`` (what ``make`` does).
"""

from __future__ import annotations

import functools
import gc
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

#: Lexicographer files of concrete nouns: swaps are drawn from these senses only.
CONCRETE_LEXNAMES = frozenset(
    {"noun.artifact", "noun.animal", "noun.body", "noun.food", "noun.object", "noun.plant",
     "noun.person", "noun.substance", "noun.location"}
)


class WordNetMissing(RuntimeError):
    pass


@functools.cache
def wordnet():
    """The nltk WordNet reader, loaded once; a clear error when the data is missing.

    The reader is nltk's, found where nltk looks, less one step: on load nltk maps the data
    to WordNet 3.0 synset ids for its multilingual (OMW) tables, and for WordNet 3.0 itself
    builds that identity map anyway (it compares the version ``3.0`` with the corpus name
    ``wordnet``), reading ``index.sense`` twice: about 40% of every process's load time."""
    import nltk
    from nltk.corpus.reader import CorpusReader
    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    from nltk.corpus.util import LazyCorpusLoader

    class _WordNet(WordNetCorpusReader):
        def map_wn(self, version="wordnet"):
            return None if version == "wordnet" and self.get_version() == "3.0" else super().map_wn(version)

    root = None
    for where in ("corpora/wordnet", "corpora/wordnet.zip/wordnet/"):
        try:
            root = nltk.data.find(where)
            break
        except LookupError:
            continue
    if root is None:
        raise WordNetMissing(
            "WordNet data not found. Install it with `python -m nltk.downloader wordnet` "
            "(or offline on Debian: `python tools/install_wordnet.py`) and point NLTK_DATA at it.")
    omw = LazyCorpusLoader("omw-2.0", CorpusReader, r".*/wn-data-.*\.tab", encoding="utf8")  # as nltk's own
    # The reader's index is hundreds of thousands of small lists and dicts made at once and
    # kept for good: full collections during the load walk them all again for nothing
    # (measured: 2.9 s of CPU with the collector on, 2.2 s off).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _WordNet(root, omw)
    finally:
        if enabled:
            gc.enable()


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


_TOKEN = re.compile(r"[a-z0-9]+")
_ARTICLES = frozenset({"a", "an", "the"})


@functools.lru_cache(maxsize=1 << 16)
def tokens(text: str) -> frozenset[str]:
    """Lower-case word tokens less articles: the units of token overlap (the audit's
    ``blind-lexical-overlap``, ``jaccard-v1``, and the balanced design's draw)."""
    return frozenset(t for t in _TOKEN.findall(text.lower()) if t not in _ARTICLES)


def mean_jaccard(texts: list[str]) -> list[float]:
    """Each text's mean Jaccard overlap of ``tokens`` with the other texts of the list."""
    n = len(texts)
    toks = [tokens(t) for t in texts]
    sim = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            sim[i][j] = sim[j][i] = len(toks[i] & toks[j]) / max(len(toks[i] | toks[j]), 1)
    return [sum(sim[i][j] for j in range(n) if j != i) / max(n - 1, 1) for i in range(n)]


@functools.cache
def _phrase_table():
    """(phrase -> row, unit float32 matrix) of ``phrase_vectors.txt`` / ``.npy`` (all-MiniLM-L6-v2
    vectors of the element phrases, built by ``tools/build_phrase_vectors.py``)."""
    import io

    import numpy as np

    names = _read_lines("phrase_vectors.txt")
    m = np.load(io.BytesIO(resources.files("scar.data").joinpath("phrase_vectors.npy").read_bytes()),
                allow_pickle=False).astype(np.float32)
    if len(m) != len(names):
        raise ValueError(f"scar/data/phrase_vectors.npy has {len(m)} rows for {len(names)} phrases")
    m /= np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
    return {n: i for i, n in enumerate(names)}, m


@functools.lru_cache(maxsize=1 << 16)
def phrase_vector(text: str):
    """The bundled sentence-embedder direction of an element phrase (a unit numpy vector), or
    None when no part of it is in the table: the phrase's own row when it has one, else the
    sum of the rows of its longest known runs of words, left to right (``sitting on`` + ``the``
    + ``bench``); unknown words add nothing. No model is loaded."""
    index, m = _phrase_table()
    words = " ".join(text.lower().split()).split(" ")
    rows, i = [], 0
    while i < len(words):
        j = next((j for j in range(len(words), i, -1) if " ".join(words[i:j]) in index), None)
        if j is None:
            i += 1
            continue
        rows.append(index[" ".join(words[i:j])])
        i = j
    if not rows:
        return None
    v = m[rows].sum(axis=0)
    n = float((v @ v) ** 0.5)
    return v / n if n > 0 else None


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
    return {noun: phrase for noun, (phrase, _) in _scene_rows().items()}


@functools.cache
def _scene_rows() -> dict[str, tuple[str, str]]:
    out = {}
    for i, ln in enumerate(_read_lines("scenes.tsv"), 1):
        cols = [c.strip() for c in ln.split("\t")]
        if len(cols) != 3 or cols[2] not in ("indoor", "outdoor"):
            raise ValueError(f"scar/data/scenes.tsv: data line {i}: want noun, phrase, indoor|outdoor: {ln!r}")
        out[cols[0]] = (cols[1], cols[2])
    return out


def scene_kind(noun: str) -> str | None:
    """``indoor`` or ``outdoor`` for a scene of the bundled vocabulary, else None."""
    row = _scene_rows().get(noun.strip().lower().replace("_", " "))
    return row[1] if row else None


@functools.lru_cache(maxsize=4096)
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


# -- one sense per category, and the swap tables (tools/build_swap_tables.py) ----------------------------

#: The sense vocabularies of each ``--source`` (``senses.tsv``), most specific first; every source
#: falls back to ``common`` (the bundled everyday nouns).
SENSE_VOCABULARIES = {
    "coco": ("coco",), "refcoco+": ("coco",), "refcocog": ("coco",), "coco-stuff": ("coco", "coco_stuff"),
    "ade20k": ("ade20k",), "visualgenome": ("visualgenome",),
}
#: The swap table (``swaps.tsv``) each source draws object swaps from.
SWAP_VOCABULARY = {"coco": "coco", "refcoco+": "coco", "refcocog": "coco", "coco-stuff": "coco_stuff",
                   "ade20k": "ade20k", "visualgenome": "visualgenome"}
#: Swap kinds for nouns outside the tables (the tables were built with the same rule).
SWAP_LEXNAMES = frozenset({"noun.artifact", "noun.animal", "noun.food", "noun.plant", "noun.person", "noun.object"})


@dataclass(frozen=True)
class Sense:
    synset: str  # WordNet synset name, e.g. "mouse.n.04"
    surface: str  # the noun captions use, e.g. "mouse"


@dataclass(frozen=True)
class NounInfo:
    synset: str
    zipf: float
    lexname: str
    container: bool
    near: frozenset[str]


@functools.cache
def senses() -> dict[tuple[str, str], Sense | None]:
    """(vocabulary, category lower-cased) -> its sense, or None for a category that names no
    visible thing (never an object, anchor or swap)."""
    out: dict[tuple[str, str], Sense | None] = {}
    for i, ln in enumerate(_read_lines("senses.tsv"), 1):
        cols = ln.split("\t")
        if len(cols) != 4:
            raise ValueError(f"scar/data/senses.tsv: data line {i} has {len(cols)} columns, expected 4: {ln!r}")
        vocab, cat, syn, surf = (c.strip() for c in cols)
        out[(vocab, cat.lower())] = Sense(syn, surf) if syn != "-" and surf != "-" else None
    return out


def _table_rows(name: str, want: str) -> Iterator[list[str]]:
    """The data lines of a bundled table, split at tabs: ``want`` names the columns (the error
    of a line with another number of columns, or an empty one, quotes it)."""
    n = want.count("<TAB>") + 1
    for i, ln in enumerate(_read_lines(name), 1):
        cols = [c.strip() for c in ln.split("\t")]
        if len(cols) != n or not all(cols):
            raise ValueError(f"scar/data/{name}: data line {i}: want {want}: {ln!r}")
        yield cols


def _for_category(table: dict[tuple[str, str], Any], source: str, category: str) -> Any:
    """A per-vocabulary table's row for a source's category: the source's vocabularies first,
    then ``common``; None when none has one."""
    cat = " ".join(category.lower().replace("_", " ").split())
    for vocab in (*SENSE_VOCABULARIES.get(source, ()), "common"):
        row = table.get((vocab, cat))
        if row is not None:
            return row
    return None


@functools.cache
def context_nouns() -> dict[tuple[str, str], tuple[frozenset[str], str, str]]:
    """(vocabulary, category) -> (cue categories, noun with a cue, noun without) (``context_nouns.tsv``)."""
    out = {}
    for vocab, cat, cues, with_cue, without in _table_rows(
            "context_nouns.tsv", "vocabulary <TAB> category <TAB> cue;cue <TAB> noun with a cue <TAB> noun without"):
        out[(vocab, cat.lower())] = (frozenset(c.strip().lower() for c in cues.split(";") if c.strip()),
                                     with_cue, without)
    return out


@functools.cache
def broad_categories() -> dict[tuple[str, str], str]:
    """(vocabulary, category) -> what else its boxes hold (``broad_categories.tsv``)."""
    return {(vocab, cat.lower()): other for vocab, cat, other in _table_rows(
        "broad_categories.tsv", "vocabulary <TAB> category <TAB> what else its boxes hold")}


def broad_category(source: str, category: str) -> str | None:
    """What else a source's boxes of ``category`` hold when its name is no safe noun for a box
    (COCO's ``cup`` boxes drinking glasses as well as cups), else None."""
    return _for_category(broad_categories(), source, category)


def noun_in_context(source: str, category: str, surface: str, categories: Iterable[str]) -> str:
    """The everyday noun for a category given the image's other categories (``context_nouns.tsv``:
    COCO's ``tv`` beside a keyboard is a ``monitor``, elsewhere a ``television``), else ``surface``."""
    row = _for_category(context_nouns(), source, category)
    if row is None:
        return surface
    cues, with_cue, without = row
    return with_cue if cues & {c.strip().lower() for c in categories} else without


def category_sense(source: str, category: str, synsets: tuple[str, ...] = ()) -> Sense | None:
    """The intended sense and surface noun of a source's category: the sense the annotation
    itself names (``synsets``, VisualGenome's per-object ``["clock.n.01"]``) when WordNet knows
    it (None when that sense is not a concrete thing: ``shade.n.01``, relative darkness), else
    the source's table row, else the ``common`` row, else the first concrete WordNet
    sense of the name or, for a multiword name WordNet lacks, of its last word (``sports ball``
    -> ``ball``)."""
    return _category_sense(source, category, tuple(synsets))


@functools.lru_cache(maxsize=65536)
def _category_sense(source: str, category: str, synsets: tuple[str, ...]) -> Sense | None:
    cat = " ".join(category.lower().replace("_", " ").split())
    for name in synsets:
        sense = annotated_sense(name, cat)
        if sense is not None:  # the annotators' sense decides: an abstract one names no visible thing
            return sense if wordnet().synset(sense.synset).lexname() in CONCRETE_LEXNAMES else None
    table = senses()
    for vocab in (*SENSE_VOCABULARIES.get(source, ()), "common"):
        if (vocab, cat) in table:
            return table[(vocab, cat)]
    for name in (cat, cat.split()[-1] if cat else ""):
        if not name:
            continue
        ss = concrete_synsets(name)
        if ss:
            return Sense(ss[0].name(), name)
    return None


@functools.lru_cache(maxsize=65536)
def annotated_sense(synset: str, name: str) -> Sense | None:
    """The sense an annotation names for ``name`` (a WordNet noun synset), with the surface noun
    a caption uses: the name when it is a lemma of the synset (after WordNet's plural folding,
    ``sneakers`` -> ``sneaker``), else its last word when that is one (``white clock`` ->
    ``clock``), else the synset's first lemma. None when WordNet does not know the synset."""
    from nltk.corpus.reader.wordnet import WordNetError

    try:
        syn = wordnet().synset(synset)
    except (WordNetError, ValueError, AttributeError):
        return None
    lemmas = [" ".join(lm.name().lower().split("_")) for lm in syn.lemmas()]
    head = synset.rsplit(".", 2)[0]
    named = {head.replace("_", " "), " ".join((wordnet().morphy(head, "n") or "").split("_"))}
    if syn.pos() != "n" or not named & set(lemmas):  # nltk resolves unknown names to unrelated synsets
        return None
    words = name.split()
    for cand in (name, words[-1] if words else ""):
        if not cand:
            continue
        base = wordnet().morphy(cand.replace(" ", "_"), "n")
        for form in (cand, " ".join((base or "").split("_"))):
            if form and form in lemmas:
                return Sense(syn.name(), form)
    return Sense(syn.name(), lemmas[0])


@functools.cache
def nouns() -> dict[str, NounInfo]:
    """Every noun of the swap tables with its synset, Zipf frequency, kind, container flag and
    the nouns it must never be swapped with (``nouns.tsv``)."""
    out = {}
    for i, ln in enumerate(_read_lines("nouns.tsv"), 1):
        cols = ln.split("\t")
        if len(cols) != 6:
            raise ValueError(f"scar/data/nouns.tsv: data line {i} has {len(cols)} columns, expected 6: {ln!r}")
        noun, syn, zipf, lexname, container, near = cols
        out[noun] = NounInfo(syn, float(zipf), lexname, container == "1", frozenset(x for x in near.split(";") if x and x != "-"))
    return out


@functools.cache
def _swap_lists() -> dict[tuple[str, str], tuple[str, ...]]:
    out = {}
    for i, ln in enumerate(_read_lines("swaps.tsv"), 1):
        cols = ln.split("\t")
        if len(cols) != 3:
            raise ValueError(f"scar/data/swaps.tsv: data line {i} has {len(cols)} columns, expected 3: {ln!r}")
        out[(cols[0], cols[1])] = tuple(x for x in cols[2].split(";") if x and x != "-")
    return out


@functools.cache
def equivalence_groups() -> tuple[frozenset[str], ...]:
    """The curated groups of words that may name the same thing (``equivalents.txt``)."""
    return tuple(frozenset(w.strip() for w in ln.split(",") if w.strip()) for ln in _read_lines("equivalents.txt"))


@functools.lru_cache(maxsize=65536)
def near(a: str, b: str) -> bool:
    """Whether nouns a and b must never stand for each other (one replacing the other as a swap,
    or two swaps of one sample): the same word, a shared word, a curated group, the tables'
    near lists (WordNet in the chosen sense, MiniLM near-synonyms), or, for nouns outside the
    tables, WordNet-related in any noun sense."""
    a, b = " ".join(a.lower().split()), " ".join(b.lower().split())
    if a == b or set(a.split()) & set(b.split()):
        return True
    info = nouns()
    if a in info and b in info[a].near or b in info and a in info[b].near:
        return True
    if any(a in g and b in g for g in equivalence_groups()):
        return True
    if a in info and b in info:
        return False  # the table already holds every WordNet relation between its nouns
    return is_noun(a) and is_noun(b) and lexical_relation(a, b) is not None


@functools.cache
def sizes() -> dict[str, int]:
    """Noun -> rough size class, 1 (a fork) to 6 (a bus) (``sizes.tsv``)."""
    out: dict[str, int] = {}
    for i, ln in enumerate(_read_lines("sizes.tsv"), 1):
        cols = ln.split("\t")
        if len(cols) != 2 or not cols[0].strip().isdigit():
            raise ValueError(f"scar/data/sizes.tsv: data line {i}: want class <TAB> nouns: {ln!r}")
        for w in cols[1].split(","):
            if w.strip():
                out[" ".join(w.lower().split())] = int(cols[0])
    return out


def size_class(noun: str | None) -> int | None:
    """The noun's size class (``sizes``), or its last word's (``wine glass`` -> ``glass``), else None."""
    if not noun:
        return None
    n = " ".join(noun.lower().split())
    table = sizes()
    return table.get(n, table.get(n.split()[-1]) if n else None)


@functools.cache
def surfaces() -> frozenset[str]:
    """Nouns of things that hold other things up on top (``surfaces.txt``)."""
    return frozenset(" ".join(w.lower().split()) for w in _read_lines("surfaces.txt"))


@functools.cache
def overheads() -> frozenset[str]:
    """Nouns of things with room beneath them (``overheads.txt``)."""
    return frozenset(" ".join(w.lower().split()) for w in _read_lines("overheads.txt"))


def is_container(noun: str) -> bool:
    """Whether something can be inside the noun (``nouns.tsv``; WordNet containers otherwise)."""
    info = nouns().get(noun.lower())
    return info.container if info is not None else False


@functools.lru_cache(maxsize=4096)
def swap_candidates(source: str, gt: str) -> tuple[str, ...]:
    """Object swaps for a GT noun, best first, before the per-sample choice: the table's list for
    the source's vocabulary, or, for a noun outside it, the vocabulary's nouns that pass the same
    rules (common, visible kind, never near the GT), same kind first then the most frequent."""
    vocab = SWAP_VOCABULARY.get(source, "common")
    gt = " ".join(gt.lower().split())
    table = _swap_lists()
    for v in (vocab, "common"):
        if (v, gt) in table:
            return table[(v, gt)]
    pool = sorted({w for (v, _), ws in table.items() if v == vocab for w in ws})
    info = nouns()
    gt_kind = concrete_synsets(gt)[0].lexname() if concrete_synsets(gt) else None
    ranked = []
    for w in pool:
        i = info.get(w)
        if (i is None or i.zipf < 3.0 or i.lexname not in SWAP_LEXNAMES or near(gt, w)
                or part_or_whole(w, gt) is not None):
            continue
        ranked.append((i.lexname != gt_kind, -i.zipf, w))
    return tuple(w for *_, w in sorted(ranked))


@functools.lru_cache(maxsize=65536)
def is_part(part: str, whole: str) -> bool:
    """Whether noun ``part`` may name a part of noun ``whole`` (a WordNet part meronym, at any
    depth, of one of the whole's two commonest senses or of what they are kinds of: a wheel of
    a car) in any of its senses, or is an attribute noun: never an anchor of the whole."""
    p_senses = set(noun_synsets(part))
    if p_senses and all(s.lexname() in ("noun.attribute", "noun.shape") for s in p_senses):
        return True
    return is_meronym(part, whole)


#: A part or whole is read in its commonest senses (a "screen" of a laptop: the third sense of the word;
#: the tables and the fallback for nouns outside them use the same depth).
PART_SENSES = 3


def part_or_whole(swap: str, gt: str) -> str | None:
    """``part`` when the swap names a part of the GT thing (a screen or a keyboard for a laptop, a
    wheel for a car), ``whole`` when the GT is a part of the swap's thing, else None: either is said
    of the region itself, so neither is an object swap (each word in its ``PART_SENSES`` commonest
    senses)."""
    if not swap or not gt:
        return None
    if is_meronym(swap, gt, PART_SENSES):
        return "part"
    if is_meronym(gt, swap, PART_SENSES):
        return "whole"
    return None


@functools.lru_cache(maxsize=65536)
def is_meronym(part: str, whole: str, part_senses: int | None = None) -> bool:
    """Whether noun ``part`` may name a part of noun ``whole``: a WordNet part meronym, at any depth,
    of one of the whole's two commonest senses or of what they are kinds of (a screen or a keyboard of
    a laptop, a wheel of a car), in any of the part's senses (or its ``part_senses`` commonest)."""
    p_senses = set(noun_synsets(part)[:part_senses])
    if not p_senses:
        return False
    for s in noun_synsets(whole)[:2]:
        for w in (s, *s.closure(lambda x: x.hypernyms())):
            if p_senses & set(w.closure(lambda x: x.part_meronyms())):
                return True
    return False
