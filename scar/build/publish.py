"""``scar publish OUT --repo-id ORG/NAME``: push a built folder to the Hugging Face Hub.

What is uploaded: the dataset card (``README.md``), the Parquet files (eval, train and
their ``extra/`` sidecars) and the rejects (``rejected/*.jsonl``). Never uploaded: images
(the card says where to download them), local state (``card.json``, manifests, partial
files), results, hidden files. Before anything leaves the machine every file to upload
is scanned for secrets (API keys and tokens from the environment, and token-shaped
strings); a hit stops the publish and names the file, never the secret.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

INCLUDE = ("README.md", "SCaR_eval_*.parquet", "SCAR_*.parquet", "extra/SCAR_*.parquet", "rejected/*.jsonl")
#: Environment variables whose values must never be published.
SECRET_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "OPENAI_API_KEY", "SCAR_LLM_API_KEY", "ANTHROPIC_API_KEY")
_TOKEN_SHAPES = re.compile(r"\b(hf_[A-Za-z0-9]{30,}|sk-[A-Za-z0-9_-]{20,})\b")


@dataclass
class UploadPlan:
    folder: Path
    files: list[str]  # relative paths, sorted
    bytes: int


def plan_upload(out: str | Path) -> UploadPlan:
    out = Path(out)
    if not (out / "README.md").is_file():
        raise FileNotFoundError(f"{out}: no README.md dataset card; build into this folder first")
    links = sorted({str(p.relative_to(out)) for pat in INCLUDE for p in out.glob(pat) if _linked(p, out)})
    if links:
        raise RuntimeError(f"refusing to publish: {', '.join(links)} is a symbolic link (or lies under one); "
                           "copy the real file into the folder instead")
    files = sorted({str(p.relative_to(out)) for pat in INCLUDE for p in out.glob(pat) if p.is_file()})
    if not any(f.endswith(".parquet") for f in files):
        raise FileNotFoundError(f"{out}: no SCaR Parquet files to publish")
    return UploadPlan(out, files, sum((out / f).stat().st_size for f in files))


def secret_values() -> list[str]:
    return [v for k in SECRET_ENV if len(v := os.environ.get(k, "")) >= 8]


def _linked(p: Path, out: Path) -> bool:
    """True when ``p`` or a folder between ``out`` and it is a symbolic link."""
    while p != out and out in p.parents:
        if p.is_symlink():
            return True
        p = p.parent
    return False


def _parquet_texts(path: Path) -> Iterator[str]:
    """Every string cell of every column of a Parquet file, decoded (one batch at a time)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def strings(arr) -> Iterator[str]:
        t = arr.type
        if pa.types.is_dictionary(t):
            yield from strings(arr.dictionary)
        elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
            yield from (v for v in arr.to_pylist() if v)
        elif pa.types.is_binary(t) or pa.types.is_large_binary(t):
            yield from (v.decode("utf-8", "replace") for v in arr.to_pylist() if v)
        elif pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
            yield from strings(arr.flatten())
        elif pa.types.is_map(t):
            yield from strings(arr.keys)
            yield from strings(arr.items)
        elif pa.types.is_struct(t):
            for i in range(t.num_fields):
                yield from strings(arr.field(i))

    pf = pq.ParquetFile(path)
    yield from (f"{k!r}{v!r}" for k, v in (pf.schema_arrow.metadata or {}).items())
    for batch in pf.iter_batches(batch_size=4096):
        for col in batch.columns:
            yield from strings(col)


def _json_strings(obj) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield str(k)
            yield from _json_strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _json_strings(v)


def _texts(path: Path) -> Iterator[str]:
    """What a reader of ``path`` sees, as text: decoded cells, decoded JSON, and the raw bytes."""
    raw = path.read_bytes()
    yield raw.decode("utf-8", "replace")
    if path.suffix == ".parquet":
        yield from _parquet_texts(path)
    elif path.suffix in (".jsonl", ".json"):
        for line in raw.decode("utf-8", "replace").splitlines() if path.suffix == ".jsonl" else [raw.decode("utf-8", "replace")]:
            try:
                yield from _json_strings(json.loads(line))
            except (json.JSONDecodeError, RecursionError):
                continue


def scan_for_secrets(plan: UploadPlan, extra: list[str] | None = None) -> list[str]:
    """Relative paths of the files that hold a secret (the secrets themselves are never shown)."""
    needles = [s for s in [*secret_values(), *(extra or [])] if s]
    bad = []
    for f in plan.files:
        if any(any(n in text for n in needles) or _TOKEN_SHAPES.search(text) for text in _texts(plan.folder / f)):
            bad.append(f)
    return bad


def publish(out: str | Path, repo_id: str, *, private: bool = False, dry_run: bool = False,
            token: str | None = None, api: Any = None) -> UploadPlan:
    """Create the dataset repository (if needed) and upload the planned files.

    ``api`` defaults to ``huggingface_hub.HfApi(token=token)``; tests pass a recording fake.
    """
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", repo_id):
        raise ValueError(f"--repo-id {repo_id!r} must look like ORG/NAME")
    plan = plan_upload(out)
    bad = scan_for_secrets(plan, [token] if token else None)
    if bad:
        raise RuntimeError(f"refusing to publish: a secret (API key or token) appears in {', '.join(bad)}")
    if dry_run:
        return plan
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    api.create_repo(repo_id=repo_id, repo_type="dataset", private=private, exist_ok=True)
    from scar import __version__

    api.upload_folder(folder_path=str(plan.folder), repo_id=repo_id, repo_type="dataset",
                      allow_patterns=plan.files, commit_message=f"SCaR built with scar {__version__}")
    log.info("published %d files (%d bytes) to %s", len(plan.files), plan.bytes, repo_id)
    return plan
