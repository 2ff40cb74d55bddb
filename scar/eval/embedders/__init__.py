"""Embedders: the interface and the registered wrappers (imported lazily).

A model is named on the command line as:

- ``NAME`` of a registered embedder (``scar models``), e.g. ``random``, ``text-only``;
- ``NAME:MODEL`` for a wrapper over a Hub id or local path, e.g.
  ``clip:openai/clip-vit-large-patch14`` or ``text-only:./my-sbert``;
- ``...@VARIANT`` for a region variant, e.g. ``clip:openai/clip-vit-base-patch32@red-circle``;
- ``path/to/file.py:Class`` for a user's class. Its revision always carries a hash of the
  file and of the local modules it imports (found by reading its ``import`` statements,
  recursively, under the file's folder and the working folder): ``file-<hash>``, or
  ``<its own revision>+file-<hash>``, so editing the file or a helper never reuses old
  vectors or results. The file's folder is put on ``sys.path`` so sibling helpers import.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from scar.eval.embedders.base import UNVERSIONED, EmbedderMeta, EmbedInput, Embedder
from scar.registry import Registry
from scar.errors import MissingInput, ScarUserError

__all__ = ["Embedder", "EmbedInput", "EmbedderMeta", "EMBEDDERS", "load_embedder", "parse_spec"]

REGION_VARIANTS = ("crop", "red-circle", "reclip", "sam-mask")

#: Parity with the reference code, measured by tests/test_parity.py against the goldens that
#: tools/parity.py wrote (the official code run unchanged, transformers 4.52.3, float32, CPU).
PARITY = {
    "vlm2vec": ("src/model/model.py + processor.py (TIGER-AI-Lab/VLM2Vec)@6e1e1d4", "1.8e-08"),
    "gme": ("src/model/baseline_backbone/gme/gme_inference.py (TIGER-AI-Lab/VLM2Vec)@6e1e1d4", "1.8e-08"),
    "virtue": ("codes/src/model/model.py, text+box path (sony/virtue)@36d8a8b", "1.6e-08",
               "the native path is not compared: it runs the official code from --virtue-src, which a test may "
               "not run"),
    "clip": ("transformers.CLIPModel@4.52.3, called directly", "1.0e-07",
             "the region variants have no reference"),
}


def parity_line(name: str) -> str | None:
    if name not in PARITY:
        return None
    ref, delta, *note = PARITY[name]
    line = f"parity: {ref}, max |\u0394| {delta} on tiny random weights; real weights not run"
    return line + "".join(f" ({n})" for n in note)


EMBEDDERS = Registry("embedder")
EMBEDDERS.register("random", "scar.eval.embedders.sanity:RandomEmbedder", kind="sanity", accepts="text",
                   revision="seed<N>", help="seeded random vector per input: the chance floor")
EMBEDDERS.register("oracle", "scar.eval.embedders.sanity:OracleEmbedder", kind="sanity", accepts="text",
                   revision="answers", help="told the answers: the ceiling (never a leaderboard entry)")
EMBEDDERS.register("constant", "scar.eval.embedders.sanity:ConstantEmbedder", kind="sanity", accepts="text",
                   revision="ones", help="one vector for all inputs: must score 0 with tie rate 1")
EMBEDDERS.register("clip", "scar.eval.embedders.clip:ClipEmbedder", kind="model", accepts="text+image",
                   revision="null (unpinned: the loaded commit is recorded)", variants=REGION_VARIANTS,
                   help="any CLIP/SigLIP Hub id or local path (clip:MODEL[@VARIANT]); "
                        "default MODEL openai/clip-vit-large-patch14")
EMBEDDERS.register("text-only", "scar.eval.embedders.text_only:TextOnlyEmbedder", kind="blind", accepts="text",
                   revision="null (unpinned: the loaded commit is recorded)",
                   help="a sentence-transformers model on the text alone (text-only:MODEL); "
                        "default: the bundled all-MiniLM-L6-v2")
_UNPINNED = "null (unpinned: the loaded commit is recorded)"
EMBEDDERS.register("vlm2vec", "scar.eval.embedders.vlm2vec:VLM2VecEmbedder", kind="model", accepts="text+image",
                   revision=_UNPINNED,
                   help="VLM2Vec on Qwen2-VL, last-token pooling (vlm2vec:MODEL); default "
                        "TIGER-Lab/VLM2Vec-Qwen2VL-2B (a LoRA adapter: needs peft), also -7B")
EMBEDDERS.register("gme", "scar.eval.embedders.gme:GmeEmbedder", kind="model", accepts="text+image",
                   revision=_UNPINNED,
                   help="GME on Qwen2-VL, chat template + last-token pooling (gme:MODEL); default "
                        "Alibaba-NLP/gme-Qwen2-VL-2B-Instruct, also -7B-Instruct")
EMBEDDERS.register("virtue", "scar.eval.embedders.virtue:VirtueEmbedder", kind="model", accepts="text+image",
                   revision=_UNPINNED, variants=("native",),
                   help="VIRTUE on Qwen2-VL (virtue:MODEL); default Sony/VIRTUE-2B-SCaR, also -7B-SCaR; "
                        "path: text+box (default: box in the query text, plain Qwen2-VL) or, with "
                        "--virtue-src PATH, native (SAM2 box prompt via the official code; "
                        "not verified against official weights)")


def parse_spec(spec: str) -> tuple[str, str | None, str | None]:
    """``NAME[:MODEL][@VARIANT]`` -> (name, model, variant)."""
    variant = None
    if "@" in spec:
        head, tail = spec.rsplit("@", 1)
        if tail and "/" not in tail:
            spec, variant = head, tail
    name, _, model = spec.partition(":")
    return name, (model or None), variant


def _accepted(cls, kwargs: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    params = inspect.signature(cls).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return dict(kwargs), []
    return {k: v for k, v in kwargs.items() if k in params}, [k for k in kwargs if k not in params]


def load_embedder(spec: str, *, args: dict[str, Any] | None = None, **defaults: Any) -> Embedder:
    """Build an embedder from a spec (module docstring). ``defaults`` (seed, device,
    dtype, batch_size...) go to the classes that take them; ``args`` (``--model-arg``)
    must all be taken, else a TypeError names the ones that are not."""
    args = dict(args or {})
    if spec.endswith(".py"):
        raise ScarUserError(f"--model {spec}: name the class too, e.g. --model {spec}:MyEmbedder (a "
                         "scar.eval.embedders.Embedder subclass in that file)")
    if ":" in spec and spec.split(":", 1)[0].endswith(".py"):
        cls, path = _user_class(spec)
        revision = "file-" + source_hash(path)
    else:
        name, model, variant = parse_spec(spec)
        cls, revision = EMBEDDERS.get(name), None
        if model is not None:
            args["model"] = model
        if variant is not None:
            args["variant"] = variant
    taken, refused = _accepted(cls, args)
    if refused:
        raise TypeError(f"--model {spec}: {cls.__name__} takes no {', '.join(refused)} "
                        f"(it takes: {', '.join(inspect.signature(cls).parameters) or 'no arguments'})")
    emb = cls(**_accepted(cls, defaults)[0], **taken)
    if "batch_size" in defaults and defaults["batch_size"] and "batch_size" not in inspect.signature(cls).parameters:
        emb.batch_size = int(defaults["batch_size"])
    if revision and emb.revision in (UNVERSIONED, None, ""):
        emb.revision = revision
    elif revision and not str(emb.revision).endswith(revision):
        emb.revision = f"{emb.revision}+{revision}"  # a user's own "v1" cannot hide an edit
    return emb


def local_modules(path: Path) -> list[Path]:
    """The files of the local modules ``path`` imports (``import x``, ``from x import y``,
    relative imports, also inside functions), recursively: those found under the file's
    folder or the working folder; installed packages are not local."""
    import ast

    import scar

    path = path.resolve()
    roots = [path.parent, Path.cwd().resolve()]
    toolkit = Path(scar.__file__).resolve().parent  # scar itself is versioned, not a user's helper
    seen: set[Path] = {path}
    found: list[Path] = []
    todo = [path]
    while todo:
        f = todo.pop()
        try:
            tree = ast.parse(f.read_text(encoding="utf-8"), filename=str(f))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        targets: list[tuple[Path, str]] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets += [(r, a.name) for a in node.names for r in roots]
            elif isinstance(node, ast.ImportFrom):
                here = roots
                if node.level:
                    folder = f.parent
                    for _ in range(node.level - 1):
                        folder = folder.parent
                    here = [folder]
                base = node.module or ""
                for r in here:
                    targets += [(r, base)] if base else []
                    targets += [(r, f"{base}.{a.name}" if base else a.name) for a in node.names]
        for root, dotted in targets:
            parts = dotted.split(".")
            for k in range(1, len(parts) + 1):  # a.b.c: a, a.b and a.b.c may each be a local file
                b = root.joinpath(*parts[:k])
                for hit in (b.with_suffix(".py"), b / "__init__.py"):
                    if hit.is_file() and hit.resolve() not in seen and toolkit not in hit.resolve().parents:
                        seen.add(hit.resolve())
                        found.append(hit.resolve())
                        todo.append(hit.resolve())
    return sorted(found)


def source_hash(path: Path) -> str:
    """12 hex digits of sha256 over a user's file and its local modules (``local_modules``)."""
    h = hashlib.sha256(path.read_bytes())
    for m in local_modules(path):
        h.update(b"\0" + m.name.encode() + b"\0" + m.read_bytes())
    return h.hexdigest()[:12]


def _user_class(spec: str):
    path_s, cls_name = spec.split(":", 1)
    path = Path(path_s)
    if not path.is_file():
        raise MissingInput(f"--model {spec}: no file {path}")
    mod_name = f"scar_user_{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]}"
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # sibling helper modules import as they would beside a script
    mod_spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    cls = getattr(module, cls_name, None)
    if not (inspect.isclass(cls) and issubclass(cls, Embedder)):
        raise TypeError(f"--model {spec}: {cls_name!r} in {path} is not a scar.eval.embedders.Embedder subclass")
    return cls, path
