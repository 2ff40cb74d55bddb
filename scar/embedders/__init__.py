"""Embedders: the interface and the registered wrappers (imported lazily)."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
from pathlib import Path

from scar.embedders.base import EmbedderMeta, EmbedInput, Embedder
from scar.registry import Registry

__all__ = ["Embedder", "EmbedInput", "EmbedderMeta", "EMBEDDERS", "load_embedder"]

EMBEDDERS = Registry("embedder")
EMBEDDERS.register("random", "scar.embedders.sanity:RandomEmbedder", kind="sanity",
                   accepts="text", help="seeded random vector per input: the chance floor")
EMBEDDERS.register("oracle", "scar.embedders.sanity:OracleEmbedder", kind="sanity",
                   accepts="text", help="told the answers: the ceiling")
EMBEDDERS.register("constant", "scar.embedders.sanity:ConstantEmbedder", kind="sanity",
                   accepts="text", help="one vector for all inputs: must not beat chance")


def load_embedder(spec: str, **kwargs) -> Embedder:
    """``NAME`` of a registered embedder, or ``path/to/file.py:Class`` of a user's
    class (its revision defaults to a hash of the file)."""
    if ":" in spec and spec.split(":", 1)[0].endswith(".py"):
        path_s, cls_name = spec.split(":", 1)
        path = Path(path_s)
        if not path.is_file():
            raise FileNotFoundError(f"--model {spec}: no file {path}")
        mod_name = f"scar_user_{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]}"
        mod_spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
        cls = getattr(module, cls_name, None)
        if not (inspect.isclass(cls) and issubclass(cls, Embedder)):
            raise TypeError(f"--model {spec}: {cls_name!r} in {path} is not a scar.embedders.Embedder subclass")
        emb = cls(**kwargs)
        if emb.revision == Embedder.revision:
            emb.revision = "file-" + hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        return emb
    cls = EMBEDDERS.get(spec)
    params = inspect.signature(cls).parameters
    return cls(**{k: v for k, v in kwargs.items() if k in params})
