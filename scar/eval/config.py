"""``EvalConfig``: every setting of one ``scar eval`` run, validated in one place.

``scar eval`` flags and Python callers both make an ``EvalConfig``; :func:`run` reads
nothing else. As with the build's ``BuildConfig`` (scar/build/config.py), unknown keys are
errors (``extra="forbid"``) and the model is frozen, so what ran is what the config says.

    from scar.eval.config import EvalConfig, run
    cfg = EvalConfig(data="demo_out", models=["random", "clip"], out="res")
    outcomes = run(cfg)          # one JSON per (model, task) under res/, resumable

Settings that reach the embedder (``seed``, ``device``, ``dtype``, ``batch_size``,
``revision``, ``max_pixels``, ``virtue_src``) are passed only when given, so each
embedder keeps its own defaults otherwise; the stored results record what was used.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, field_validator, model_validator

from scar.errors import ScarUserError


class EvalConfig(BaseModel):
    """One evaluation: which data and tasks, which embedders, where results go, and how."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: str = Field(description="a SCaR_eval_<Source>.parquet, a folder of them, a local MMEB-eval copy or "
                                  "hf://OWNER/NAME[@REVISION]")
    tasks: tuple[str, ...] | None = Field(None, description="'scar', 'mmeb', task names or suite YAMLs (default: "
                                                            "every SCaR_eval_*.parquet in data)")
    image_root: Path | None = Field(None, description="folder image paths are relative to (default DATA/images)")
    models: tuple[str, ...] = Field(min_length=1, description="embedder specs: NAME, NAME:MODEL[@VARIANT], "
                                                              "file.py:Class")
    model_args: dict[str, str] = Field(default_factory=dict, description="keyword arguments for every model class")
    out: Path = Field(description="results folder: OUT/<run>/<revision>/<task>.json")
    revision: str | None = None
    device: str | None = None
    dtype: str | None = None
    seed: int = 0
    batch_size: PositiveInt | None = None
    loader_threads: NonNegativeInt = Field(2, description="background threads decoding images")
    max_pixels: PositiveInt | None = None
    virtue_src: Path | None = None
    overwrite: bool = False
    cache: bool = Field(True, description="read and write the embedding cache ($SCAR_CACHE/embeddings)")
    ties: Literal["strict", "official"] = "strict"

    @field_validator("model_args")
    @classmethod
    def _keys(cls, v: dict[str, str]) -> dict[str, str]:
        out = {k.strip().replace("-", "_"): val for k, val in v.items()}
        bad = [k for k in out if not k.isidentifier()]
        if bad:
            raise ValueError(f"model argument names must be identifiers, not {bad}")
        return out

    @model_validator(mode="after")
    def _virtue_src(self) -> EvalConfig:
        if self.virtue_src is not None and not any(_embedder_name(s) == "virtue" for s in self.models):
            raise ValueError("--virtue-src (virtue_src) is for the virtue embedder (--model virtue[:MODEL])")
        return self

    def embedder_defaults(self) -> dict[str, Any]:
        """The settings handed to every embedder class that takes them (given ones only)."""
        given = {"seed": self.seed, "device": self.device, "dtype": self.dtype, "batch_size": self.batch_size,
                 "revision": self.revision, "max_pixels": self.max_pixels,
                 "virtue_src": None if self.virtue_src is None else str(self.virtue_src)}
        return {k: v for k, v in given.items() if v is not None}


def _embedder_name(spec: str) -> str:
    return spec.split(":", 1)[0].split("@", 1)[0]


def parse_model_args(pairs: list[str]) -> dict[str, str]:
    """``["fusion=image", "sam-model=x"]`` -> ``{"fusion": "image", "sam_model": "x"}``."""
    out = {}
    for kv in pairs:
        key, sep, value = kv.partition("=")
        if not sep or not key.strip():
            raise ScarUserError(f"--model-arg {kv!r}: use KEY=VALUE")
        out[key.strip().replace("-", "_")] = value
    return out


def run(config: EvalConfig, *, progress: bool = True,
        on_outcome: Callable[[Any, Any], None] | None = None) -> list[Any]:
    """Score every model of ``config`` on its tasks (``scar.eval.harness.run_eval`` per model).

    Under torchrun this joins the process group first (each rank on its GPU). ``on_outcome``
    is called as ``on_outcome(embedder, outcome)`` after each task. Returns the outcomes of
    every model in order."""
    from scar.eval import dist
    from scar.eval.embedders import load_embedder
    from scar.eval.harness import run_eval
    from scar.eval.tasks import resolve_tasks

    tasks = resolve_tasks(list(config.tasks) if config.tasks else None, config.data,
                          None if config.image_root is None else str(config.image_root))
    device = dist.init_from_env()  # under torchrun: join the group, this rank's device
    defaults = config.embedder_defaults()
    if device and not config.device:
        defaults["device"] = device
    outcomes: list[Any] = []
    for spec in config.models:
        try:
            emb = load_embedder(spec, args=dict(config.model_args), **defaults)
        except TypeError as e:
            raise ScarUserError(str(e)) from e
        outcomes += run_eval(emb, tasks, config.out, overwrite=config.overwrite, progress=progress and dist.is_main(),
                             batch_size=config.batch_size, cache=config.cache, workers=config.loader_threads,
                             on_outcome=None if on_outcome is None else (lambda oc, emb=emb: on_outcome(emb, oc)),
                             ties=config.ties)
    return outcomes
