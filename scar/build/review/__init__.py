"""Human review of a built SCaR folder: a local page, decisions saved as made, applied later.

- ``ReviewStore``: the rows of the eval files and the reviewer's decisions, appended to
  ``OUT/review/decisions.jsonl`` (one JSON line per action, flushed and fsynced, so a killed
  server loses nothing; the latest decision for a sample wins).
- ``make_server``: the page and its small JSON API on 127.0.0.1 (``scar review OUT``), on a
  free port, behind a per-session token (in the printed URL), Host and Origin checks,
  JSON-only bounded bodies (``server.py`` says what a request must carry).
- ``apply_decisions``: ``scar review OUT --apply`` rewrites the eval files in place:
  rejected rows move to ``rejected/review.jsonl`` with the reviewer's reason; edited
  candidates are re-validated and an edit that breaks the rules is refused with a reason.
  It is journaled (rejects durable before any file is replaced, one atomic rename per
  file, a re-run finishes an interrupted apply) and re-renders the dataset card.
"""

from scar.build.review.store import Decision, ReviewStore, apply_decisions

__all__ = ["Decision", "ReviewStore", "apply_decisions"]
