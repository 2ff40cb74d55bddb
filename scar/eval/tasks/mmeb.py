"""MMEB image tasks from a local copy of TIGER-Lab/MMEB-eval (or the Hub).

Layout of a local copy (as on the Hub): one folder per task holding its Parquet
(``<Task>/test-00000-of-00001.parquet``; ``<Task>/test/*.parquet`` and ``<Task>.parquet``
are read too) and the images under an image root (``images/`` by default, what
``images.zip`` unpacks to). Columns: ``qry_text``, ``qry_img_path`` (``""`` for a text
query), ``tgt_text`` (list) and ``tgt_img_path`` (list, ``""`` for a text candidate),
GT first. ``<|image_1|>`` is stripped from every text (each embedder adds its own
image token); everything else of the instruction is kept.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path

from scar.errors import MissingInput, ScarUserError
from scar.eval.tasks.base import InputSpec, Query, RowError, Task, TaskMeta
from scar.eval.tasks.images import BadRow, file_sha256, resolve_image
from scar.schema import IMAGE_TOKEN

COLUMNS = ("qry_text", "qry_img_path", "tgt_text", "tgt_img_path")
HUB_REPO = "TIGER-Lab/MMEB-eval"


def task_files(data: Path, name: str, split: str = "test") -> list[Path]:
    """The Parquet file(s) of task ``name`` in a local MMEB-eval copy."""
    for pattern in (f"{name}/{split}-*.parquet", f"{name}/{split}/*.parquet", f"{name}/*.parquet"):
        files = sorted(data.glob(pattern))
        if files:
            return files
    if (data / f"{name}.parquet").is_file():
        return [data / f"{name}.parquet"]
    raise MissingInput(f"{data}: no Parquet for MMEB task {name!r} (looked for {name}/{split}-*.parquet, "
                            f"{name}/{split}/*.parquet, {name}/*.parquet and {name}.parquet)")


def input_text(s) -> str:
    """The text an embedder gets for an MMEB query or candidate: the image token removed."""
    return (s or "").replace(IMAGE_TOKEN, "").strip()


class MmebTask(Task):
    def __init__(self, name: str, data: str | Path, image_root: str | Path | None = None, *,
                 meta_task: str | None = None, ind_ood: str | None = None,
                 dataset_revision: str | None = None, split: str = "test", suite: str = "mmeb",
                 dataset: str = HUB_REPO) -> None:
        self.data = Path(data)
        self.files = task_files(self.data, name, split)
        self.image_root = Path(image_root) if image_root else self.data / "images"
        h = hashlib.sha256()
        for f in self.files:
            h.update(f"{f.name}:{file_sha256(f)}\n".encode())
        fp = file_sha256(self.files[0]) if len(self.files) == 1 else h.hexdigest()
        self.meta = TaskMeta(name=name, suite=suite, dataset=dataset, revision=dataset_revision, split=split,
                             main_score="precision_at_1", meta_task=meta_task, ind_ood=ind_ood, fingerprint=fp)

    def _input(self, text, path) -> InputSpec:
        if path is not None and not isinstance(path, str):
            raise BadRow("malformed image path", repr(path))
        img = resolve_image(self.image_root, path) if path and path.strip() else None
        t = input_text(text)
        if img is None and not t:
            raise BadRow("malformed candidates", "an input with neither text nor image")
        return InputSpec(t or None, img, None)

    @cached_property
    def _rows(self) -> tuple[list[Query], list[RowError]]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        tables = []
        for f in self.files:
            t = pq.read_table(f)
            missing = [c for c in COLUMNS if c not in t.column_names]
            if missing:
                raise ScarUserError(f"{f}: missing MMEB column(s) {missing} (has {t.column_names})")
            tables.append(t.select(list(COLUMNS)))
        cols = pa.concat_tables(tables).to_pydict()
        out, errors = [], []
        for i in range(len(cols["qry_text"])):
            try:
                texts, paths = cols["tgt_text"][i], cols["tgt_img_path"][i]
                if texts is None or paths is None or len(texts) != len(paths):
                    raise BadRow("malformed candidates", "tgt_text and tgt_img_path differ in length")
                if len(texts) < 2:
                    raise BadRow("malformed candidates", f"{len(texts)} candidate(s), need at least 2")
                cands = tuple(self._input(t, p) for t, p in zip(texts, paths))
                q = self._input(cols["qry_text"][i], cols["qry_img_path"][i])
            except BadRow as e:
                errors.append(RowError(i, e.reason, e.detail))
                continue
            out.append(Query(q, cands, None, i))
        return out, errors

    def queries(self) -> list[Query]:
        return self._rows[0]

    def row_errors(self) -> list[RowError]:
        return self._rows[1]


def hub_snapshot(repo: str, tasks: list[str], revision: str | None = None, *, images: bool = True) -> tuple[Path, Path | None, str]:
    """Download the Parquet of ``tasks`` (and ``images.zip``, unpacked once into the
    scar cache) from the Hub. Returns (data folder, image root or None, commit)."""
    from huggingface_hub import hf_hub_download, snapshot_download

    path = Path(snapshot_download(repo, repo_type="dataset", revision=revision,
                                  allow_patterns=[f"{t}/*" for t in tasks] + [f"{t}.parquet" for t in tasks]))
    commit = path.name if len(path.name) == 40 else (revision or "unknown")
    if not images:
        return path, None, commit
    import zipfile

    from scar.cache import cache_dir

    dest = cache_dir("mmeb", repo.replace("/", "__"), commit)
    done = dest / ".unpacked"
    if not done.exists():
        archive = hf_hub_download(repo, "images.zip", repo_type="dataset", revision=commit if len(commit) == 40 else revision)
        with zipfile.ZipFile(archive) as z:
            z.extractall(dest / "images")  # zipfile drops absolute parts and '..' from member names
        done.write_text("ok\n")
    root = dest / "images"
    entries = [p for p in root.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir() and not any((root / t).exists() for t in tasks):
        root = entries[0]  # the archive wraps everything in one top folder
    return path, root, commit
