"""Paths of the in-repository reference data used by tests."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REF = REPO / "scar" / "data" / "reference"
