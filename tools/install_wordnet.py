#!/usr/bin/env python3
"""Make WordNet 3.0 available to nltk, offline if need be.

Order of attempts (the first that works wins):
1. nltk already finds WordNet (``NLTK_DATA`` or nltk's default folders): nothing to do.
2. Debian's ``wordnet-base`` + ``wordnet-sense-index`` packages (``apt-get download``,
   no root needed), unpacked into ``$NLTK_DATA/corpora/wordnet`` with the missing
   ``lexnames`` table written.
3. ``nltk.download("wordnet")`` (needs internet; the usual way on a user's machine).

Usage: NLTK_DATA=DIR python tools/install_wordnet.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# The fixed WordNet 3.0 table of lexicographer files (number, name, syntactic category).
LEXNAMES = """adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute
noun.body noun.cognition noun.communication noun.event noun.feeling noun.food noun.group
noun.location noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession
noun.process noun.quantity noun.relation noun.shape noun.state noun.substance noun.time
verb.body verb.change verb.cognition verb.communication verb.competition verb.consumption
verb.contact verb.creation verb.emotion verb.motion verb.perception verb.possession verb.social
verb.stative verb.weather adj.ppl""".split()
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


def lexnames_text() -> str:
    return "".join(f"{i:02d}\t{n}\t{_CATEGORY[n.split('.')[0]]}\n" for i, n in enumerate(LEXNAMES))


def wordnet_works() -> bool:
    code = "from nltk.corpus import wordnet as wn; assert wn.synsets('dog', pos='n')"
    return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def from_debian(target: Path) -> bool:
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        return False
    with tempfile.TemporaryDirectory() as tmp:
        got = subprocess.run(["apt-get", "download", "wordnet-base", "wordnet-sense-index"],
                             cwd=tmp, capture_output=True, text=True)
        debs = sorted(Path(tmp).glob("*.deb"))
        if got.returncode != 0 or len(debs) < 2:
            # the package lists may be missing on a fresh machine
            subprocess.run(["apt-get", "update"], capture_output=True)
            got = subprocess.run(["apt-get", "download", "wordnet-base", "wordnet-sense-index"],
                                 cwd=tmp, capture_output=True, text=True)
            debs = sorted(Path(tmp).glob("*.deb"))
        if len(debs) < 2:
            print(f"install_wordnet: apt-get download failed: {got.stderr.strip()[-300:]}", file=sys.stderr)
            return False
        unpacked = Path(tmp) / "root"
        for deb in debs:
            subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
        src = unpacked / "usr" / "share" / "wordnet"
        target.mkdir(parents=True, exist_ok=True)
        for f in src.iterdir():
            if f.is_file():
                shutil.copy2(f, target / f.name)
    (target / "lexnames").write_text(lexnames_text())
    return True


def main() -> int:
    data = Path(os.environ.get("NLTK_DATA", Path.home() / "nltk_data")).expanduser()
    os.environ["NLTK_DATA"] = str(data)
    if wordnet_works():
        print(f"WordNet: already available (NLTK_DATA={data})")
        return 0
    if from_debian(data / "corpora" / "wordnet") and wordnet_works():
        print(f"WordNet: installed from Debian packages into {data}/corpora/wordnet")
        return 0
    import nltk

    if nltk.download("wordnet", download_dir=str(data), quiet=True) and wordnet_works():
        print(f"WordNet: downloaded with nltk into {data}")
        return 0
    print("WordNet could not be installed: run `python -m nltk.downloader wordnet` "
          "on a machine with internet, or install Debian's wordnet-base and wordnet-sense-index.",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
