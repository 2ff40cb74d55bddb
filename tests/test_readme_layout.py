"""The README's "Layout" section matches the tree: every file or folder it names exists where
the bullet puts it, and every module and folder of the package (its top level and the top
level of build/, eval/, leaderboard/), and every top-level folder of the repository, is named."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKEN = re.compile(r"`([^`]+)`")
#: folders whose bullet lists their modules one by one (the others are named as folders)
LISTED = ("scar", "scar/build", "scar/eval", "scar/leaderboard")


def _section() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"^## Layout\n(.*?)(?=^## )", text, flags=re.S | re.M)
    assert m, "README.md has no '## Layout' section"
    return m.group(1).splitlines()


def _bullets() -> list[tuple[int, str]]:
    """(indent, text) of each bullet, continuation lines joined."""
    out: list[tuple[int, str]] = []
    for line in _section():
        b = re.match(r"^(\s*)- (.*)$", line)
        if b:
            out.append((len(b.group(1)), b.group(2)))
        elif out and line.strip():
            out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
    return out


FILE_SUFFIXES = (".py", ".yaml", ".yml", ".md", ".txt", ".tsv", ".csv", ".json", ".html")


def _pathlike(tok: str) -> bool:
    if not re.fullmatch(r"[\w.+-]+(/[\w.+-]+)*/?", tok):
        return False
    return "/" in tok or tok.endswith(FILE_SUFFIXES)


def named_paths() -> list[Path]:
    """Each path the section names. A name followed by " —" heads what follows it (a folder,
    relative to its bullet's parent folder); other names are relative to the last head."""
    paths: list[Path] = []
    folder_of_indent: dict[int, Path] = {}
    for indent, text in _bullets():
        base = folder_of_indent.get(indent - 2, ROOT) if indent else ROOT
        folder = base
        for m in TOKEN.finditer(text):
            t = m.group(1)
            if not _pathlike(t):
                continue
            if text[m.end():].startswith(" —"):
                folder = base / t.rstrip("/")
                paths.append(folder)
                continue
            # relative to the current head; a path with a folder part may also be relative to
            # the repository (tools/x.py, tests/fixtures/...)
            cand = [folder / t, ROOT / t] if "/" in t.rstrip("/") else [folder / t]
            paths.append(next((c for c in cand if c.exists()), cand[0]))
        folder_of_indent[indent] = folder
    return paths


def test_every_named_path_exists():
    missing = [str(p.relative_to(ROOT)) for p in named_paths() if not p.exists()]
    assert not missing, f"README Layout names paths that do not exist: {missing}"


def test_every_module_and_folder_is_named():
    named = {q.resolve() for p in named_paths() for q in (p, *p.parents)}
    unnamed = []
    for rel in LISTED:
        for child in sorted((ROOT / rel).iterdir()):
            if child.name.startswith(("_", ".")) or child.name.endswith(".egg-info"):
                continue
            if child.suffix == ".py" or (child.is_dir() and (child / "__init__.py").exists()):
                if child.resolve() not in named:
                    unnamed.append(str(child.relative_to(ROOT)) + ("/" if child.is_dir() else ""))
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    top = sorted({t.split("/")[0] for t in tracked if "/" in t and not t.startswith(".")})
    unnamed += [f"{d}/" for d in top if (ROOT / d).resolve() not in named]
    assert not unnamed, f"README Layout does not name: {unnamed}"


def test_docstrings_cite_files_in_this_repository():
    """Every document a module, suite or test names (``DESIGN.md``, ``docs/x.md``, ``../y.md``)
    is in the repository; lower-case names such as ``leaderboard.md`` are output files."""
    cited = re.compile(r"(?<![\w/.-])((?:\.\./)*(?:[\w.-]+/)*(?:[A-Z][A-Z0-9_]*|(?<=docs/)[\w.-]+)\.md)\b")
    missing = []
    for path in [*(ROOT / "scar").rglob("*.py"), *(ROOT / "scar").rglob("*.yaml"), *(ROOT / "tests").rglob("*.py")]:
        if path == Path(__file__).resolve():
            continue
        for doc in cited.findall(path.read_text(encoding="utf-8")):
            if doc == "README.md" or "://" in doc:
                continue  # the output folder's card, written by the build
            if not any((base / doc).exists() for base in (ROOT, path.parent, ROOT / "docs")):
                missing.append(f"{path.relative_to(ROOT)}: {doc}")
    assert not missing, f"documents cited but not in the repository: {missing}"
