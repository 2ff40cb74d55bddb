#!/usr/bin/env bash
# The package as a user installs it: build the wheel from the checkout's files, install it
# into a fresh virtual environment outside the checkout (no system site-packages, the
# repository's constraints.txt, the [samples] extra the demo needs), and from another folder
# build the demo, score `random` and print the leaderboard. The suites and the paper rows
# must come from the installed package data, not from the checkout.
#
# Usage: .ci/wheel_check.sh   (PYTHON=python3.11 to choose the interpreter; KEEP=1 keeps the
# temporary folder). NLTK_DATA: WordNet, by default the checkout's .venv/nltk_data (made by
# `make venv`); tools/install_wordnet.py fills it if it is missing.
# Time: the dependencies' wheels are kept in a wheelhouse beside pip's cache
# ($SCAR_WHEELHOUSE, default $(pip cache dir)/scar-wheelhouse) and installed from it with
# --no-index; only a missing wheel (first run, a new pin) sends pip to the package index.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/scar-wheel.XXXXXX")"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
unset PYTHONPATH
export NLTK_DATA="${NLTK_DATA:-$repo/.venv/nltk_data}"
t0=$(date +%s)
wh="${SCAR_WHEELHOUSE:-$("$python" -m pip cache dir)/scar-wheelhouse}"
mkdir -p "$wh"
step() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
# run a pip command from the wheelhouse only; when a wheel is missing, fetch what the
# requirements need into the wheelhouse ($1: requirements) and run it again
from_wheelhouse() {
  local reqs="$1"; shift
  rm -f "$wh"/scar-*.whl
  "$@" --no-index --find-links "$wh" 2>/dev/null || {
    step "fetching wheels into $wh"
    "$python" -m pip download -q -d "$wh" -c "$repo/constraints.txt" $reqs
    rm -f "$wh"/scar-*.whl  # only the dependencies are kept; the package is the one just built
    "$@" --no-index --find-links "$wh"; }
}

# 1. the wheel, from the files git knows (tracked, or new and not ignored): what a release has
mkdir -p "$work/src" "$work/dist"
git -C "$repo" ls-files -z --cached --others --exclude-standard |
  (cd "$repo" && xargs -0 tar -cf - --ignore-failed-read 2>/dev/null) | tar -xf - -C "$work/src"
from_wheelhouse "setuptools>=68 wheel" "$python" -m pip wheel -q --no-deps -w "$work/dist" "$work/src"
wheel="$(ls "$work"/dist/scar-*.whl)"
step "built $(basename "$wheel")"

# 2. a fresh venv outside the checkout, the same pins as CI
"$python" -m venv "$work/venv"
from_wheelhouse "${wheel}[samples]" "$work/venv/bin/python" -m pip install -q -c "$repo/constraints.txt" "${wheel}[samples]"
"$work/venv/bin/python" "$repo/tools/install_wordnet.py" >/dev/null
step "installed in a fresh venv"

# 3. from another folder: demo, eval, leaderboard
mkdir -p "$work/elsewhere"
cd "$work/elsewhere"
where="$("$work/venv/bin/python" -c 'import scar, sys; print(scar.__file__)')"
case "$where" in "$work/venv/"*) ;; *) echo "scar imported from $where, not from the wheel" >&2; exit 1;; esac
scar="$work/venv/bin/scar"
"$scar" -q demo --out D > demo.txt
"$scar" -q eval --data D --model random --out R > eval.txt
"$scar" leaderboard R > board.md
step "demo, eval and leaderboard run"
"$work/venv/bin/python" -c "from scar.eval.tasks.suites import load_suite
for name in ('scar', 'mmeb'):
    assert load_suite(name).tasks, name"  # the suites, from package data
grep -q "VIRTUE-2B" board.md || { echo "no paper rows in the leaderboard (package data not found)" >&2; cat board.md >&2; exit 1; }
grep -q "^| random" board.md || { echo "the measured random row is missing" >&2; cat board.md >&2; exit 1; }
echo "wheel check passed in $(( $(date +%s) - t0 )) s: $(basename "$wheel") in a fresh venv; demo, eval and leaderboard from $(pwd)"
