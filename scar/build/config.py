"""``BuildConfig``: every setting of one build, validated in one place.

``scar build`` flags, recipe entries and Python callers all make a ``BuildConfig``;
``build(config)`` reads nothing else. The model is nested the way the work is:

- ``source``: which dataset, where, which split, the reading rules and the masks;
- ``generator``: the caption/negative generator, the candidate design, the judge, and the
  LLM options of the LLM generators;
- ``engine``: where the steps run (local processes or Ray) and the shard size;
- ``output``: the folder and what is written besides the rows.

Every field says whether it **decides rows** (``rows`` in its JSON schema): the resume
fingerprint is exactly those fields plus the toolkit version (:meth:`BuildConfig.fingerprint`),
so a ``--resume`` with any of them changed is refused, and one that only changes speed or
where the work runs is not. Unknown keys are errors (``extra="forbid"``), recipes included.
Names (sources, generators, engines, candidate designs) are checked against their registries.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, field_validator, model_validator

from scar.errors import ScarUserError
from scar.registry import Registry, suggest


def rows(default: Any = ..., **kw: Any) -> Any:
    """A field that decides which rows a build writes (it enters the resume fingerprint)."""
    return Field(default, json_schema_extra={"rows": True}, **kw)


def setting(default: Any = ..., **kw: Any) -> Any:
    """A field that changes how or where the build runs, never its rows."""
    return Field(default, json_schema_extra={"rows": False}, **kw)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kw: Any) -> None:
        super().__pydantic_init_subclass__(**kw)
        for name, f in cls.model_fields.items():
            extra = f.json_schema_extra
            if not isinstance(extra, dict) or "rows" not in extra:
                raise TypeError(f"{cls.__name__}.{name}: declare it with rows() or setting()")

    def row_settings(self) -> dict[str, Any]:
        """The fields that decide rows, nested as in the model (paths made absolute)."""
        out: dict[str, Any] = {}
        for name, f in type(self).model_fields.items():
            if not f.json_schema_extra["rows"]:
                continue
            v = getattr(self, name)
            if isinstance(v, _Model):
                v = v.row_settings()
            elif isinstance(v, Path):
                v = str(v.expanduser().resolve())
            elif isinstance(v, tuple):
                v = list(v)
            out[name] = v
        return out


# -- registries of the names the config accepts (the CLI's choices come from these) ---------
GENERATORS = Registry("generator")
GENERATORS.register("lexical", "scar.build.generators:lexical",
                    help="offline, deterministic: annotations, geometry, WordNet swaps, scene vocabulary")
GENERATORS.register("openai", "scar.build.generators:openai",
                    help="any OpenAI-compatible endpoint completes missing elements and writes swaps")
GENERATORS.register("local", "scar.build.generators:local",
                    help="the bundled SmolLM2 served by xllamacpp on 127.0.0.1 fills gaps (mixed mode)")

ENGINES = Registry("engine")
ENGINES.register("local", "scar.build.engines.local:run_local",
                 help="in-process, or a local process pool of --workers")
ENGINES.register("ray", "scar.build.engines.ray:run_ray",
                 help="Ray Data stages on a local Ray or a cluster (pip install 'scar[scale]')")

CANDIDATES = Registry("candidate design")
CANDIDATES.register("paper", None, help="GT + 3 object, 3 relation, 3 scene swaps (as released)")
CANDIDATES.register("balanced", "scar.build.steps.balanced:BalancedCandidates",
                    help="a 5x2 grid over two elements, rotating, that gives the GT away to no blind model")


def _known(registry: Registry, value: str, what: str) -> str:
    if value not in registry:
        raise ValueError(f"unknown {what} {value!r}{suggest(value, registry.names())}")
    return value


class SourceConfig(_Model):
    """What is read: ``--source``, ``--root``, ``--split`` and the source options."""

    name: str = rows(description="the --source key (`scar sources list`)")
    root: Path = rows(description="folder the dataset was downloaded to")
    split: Literal["train", "val"] = rows()
    stem: str | None = rows(None, description="file stem for --source coco (--name; default COCO)")
    limit: PositiveInt | None = rows(None, description="stop after this many samples")
    images: Path | None = rows(None, description="image folder kept outside the root")
    annotations: Path | None = rows(None, description="--source coco: the annotation file")
    stuff: list[Path] | None = rows(None, description="coco, refcoco+, refcocog, visualgenome (coco_id): COCO-Stuff "
                                    "stuff JSONs (stuff_<split>2017.json) for the same COCO images: their "
                                    "classes ground the scenes")
    masks: Literal["box", "sam"] | None = rows(None, description="segmentation where the source has none")
    sam_model: str | None = rows(None, description="with masks sam: Hub id or local folder")
    sam_batch: PositiveInt | None = setting(None, description="with masks sam: images per forward pass")
    exclude_coco: bool | None = rows(None, description="visualgenome: leave out COCO images")
    val_percent: float | None = rows(None, gt=0, le=100, description="visualgenome: val share by hash")
    max_per_image: PositiveInt | None = rows(None, description="samples per image at most (source default 5)")
    min_area: float | None = rows(None, ge=0, lt=1, description="smallest box, fraction of the image")
    check_images: bool | None = rows(None, description="open and verify each image (default) or only stat it")

    @field_validator("stuff", mode="before")
    @classmethod
    def _stuff(cls, v: Any) -> Any:
        return [v] if isinstance(v, (str, Path)) else v  # one file or several

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        from scar.build.sources import SOURCES

        return _known(SOURCES, v, "source")

    @model_validator(mode="after")
    def _options(self) -> SourceConfig:
        from scar.names import source_name

        source_name(self.name, self.stem)  # ValueError: a bad or forbidden --name
        if self.stem is not None and self.name != "coco":
            raise ValueError(f"--name applies to --source coco only, not {self.name}")
        if self.masks == "sam" and not self.sam_model:
            raise ValueError("--masks sam needs --sam-model (a Hub id such as facebook/sam-vit-base, or a local path)")
        if (self.sam_model or self.sam_batch) and self.masks != "sam":
            raise ValueError("--sam-model and --sam-batch apply with --masks sam")
        takes = source_options(self.name)
        bad = [k for k in self.source_kwargs() if k not in takes]
        if bad:
            names = ", ".join("--" + k.replace("_", "-") for k in bad)
            raise ValueError(f"option {names} does not apply to --source {self.name}" if len(bad) == 1 else
                             f"options {names} do not apply to --source {self.name}")
        return self

    def source_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the source's constructor that were set (``masks``,
        ``sam_model`` and ``sam_batch`` are the build's ``masks`` step's, not the reader's)."""
        kw = {k: getattr(self, k) for k in ("images", "annotations", "stuff", "exclude_coco", "val_percent",
                                             "max_per_image", "min_area", "check_images")}
        kw = {k: (str(v) if isinstance(v, Path) else [str(x) for x in v] if isinstance(v, list) else v)
              for k, v in kw.items() if v is not None}
        if self.stem is not None:
            kw["name"] = self.stem
        return kw


def source_options(name: str) -> set[str]:
    """The keyword options the source ``name`` takes (its constructor's and the common rules)."""
    from scar.build.sources import SOURCES

    return set(_class_options(SOURCES.get(name)))


@functools.lru_cache(maxsize=256)
def _class_options(cls: type) -> frozenset[str]:
    """``source_options`` of a source class (read once per class: ``inspect.signature`` is slow)."""
    own = {p.name for c in cls.__mro__ if "__init__" in vars(c)
           for p in inspect.signature(vars(c)["__init__"]).parameters.values()
           if p.kind is inspect.Parameter.KEYWORD_ONLY}
    return frozenset(own | set(getattr(cls, "SETTINGS", ())))


class GeneratorConfig(_Model):
    """How captions and negatives are made, and which filters judge them."""

    name: str = rows("lexical", description="the --generator")
    candidates: str = rows("paper", description="the candidate design")
    judge: bool = rows(False, description="LLM judge filter on the generator's endpoint")
    model: str | None = rows(None, description="model name sent to the endpoint")
    base_url: str | None = rows(None, description="OpenAI-compatible endpoint")
    complete_only: bool = rows(False, description="mixed mode: the LLM only fills gaps")
    llm_swaps: bool = rows(False, description="local: the model writes the swaps too")
    max_cost: float | None = rows(None, gt=0, description="USD cap of the LLM requests of the build")
    price: tuple[float, float] | None = rows(None, description="USD per 1M prompt and completion tokens")
    concurrency: PositiveInt | None = setting(None, description="requests in flight at once")
    timeout: float | None = setting(None, gt=0, description="seconds for one request")
    max_attempts: PositiveInt | None = rows(None, description="attempts per sample before it is quarantined")
    max_tokens: PositiveInt | None = rows(None, description="reply token limit")
    json_mode: Literal["schema", "object"] | None = rows(None, description="structured output kind")
    vision: bool = rows(False, description="send the image with the region drawn")
    closed_scenes: bool | None = rows(None, description="scene from the bundled vocabulary only")
    use_cache: bool = setting(True, description="read and write the LLM reply cache")
    scene_model: str | None = rows(None, description="clip:PATH or siglip:PATH (local folder or Hub id): a zero-shot "
                                   "specific scene where the evidence gives only indoors/outdoors or none")
    scene_margin: float | None = rows(None, ge=0, le=1, description="with scene_model: the best scene's probability "
                                      "must beat the runner-up's by more than this (default 0.2)")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _known(GENERATORS, v, "generator")

    @field_validator("candidates")
    @classmethod
    def _candidates(cls, v: str) -> str:
        return _known(CANDIDATES, v, "candidate design")

    @field_validator("price")
    @classmethod
    def _price(cls, v):
        if v is not None and min(v) < 0:
            raise ValueError("--llm-price values must be >= 0")
        return v

    @model_validator(mode="after")
    def _coherent(self) -> GeneratorConfig:
        if self.complete_only and self.llm_swaps:
            raise ValueError("--complete-only and --llm-swaps contradict each other: choose one")
        if self.max_cost is not None and not (self.price and max(self.price) > 0):
            raise ValueError("--max-cost needs the model's prices: --llm-price IN OUT (USD per 1M tokens)")
        if self.scene_model is not None:
            scene_model_spec(self.scene_model)  # ValueError: not clip:PATH / siglip:PATH
        elif self.scene_margin is not None:
            raise ValueError("--scene-margin applies with --scene-model")
        if self.judge and self.name == "lexical":
            raise ValueError("--judge asks the generator's LLM endpoint: use --generator openai (add "
                             "--complete-only to keep the lexical swaps) or --generator local")
        if self.name == "lexical":
            given = [k for k in LLM_OPTIONS if getattr(self, k) != type(self).model_fields[k].default]
            if given:
                raise ValueError(f"--generator lexical takes no LLM options (got {given}); "
                                 "use --generator openai or local")
        return self


def scene_model_spec(spec: str) -> tuple[str, str]:
    """``--scene-model``: ``"clip:PATH"`` -> ``("clip", "PATH")`` (also ``siglip:``); a ValueError otherwise."""
    kind, sep, path = str(spec).partition(":")
    if not sep or kind not in ("clip", "siglip") or not path.strip():
        raise ValueError(f"--scene-model wants clip:PATH or siglip:PATH (a local folder or a Hub id), got {spec!r}")
    return kind, path.strip()


#: GeneratorConfig fields that only the LLM generators take.
LLM_OPTIONS = ("model", "base_url", "complete_only", "llm_swaps", "max_cost", "price", "concurrency", "timeout",
               "max_attempts", "max_tokens", "json_mode", "vision", "closed_scenes", "use_cache")


class EngineConfig(_Model):
    """Where the steps run; the bytes written do not depend on it."""

    name: str = setting("local", description="local or ray")
    workers: PositiveInt = setting(1, description="local worker processes")
    ray_address: str | None = setting(None, description="with ray: the cluster to join")
    shard_size: PositiveInt = setting(256, description="images per shard (the unit of resume)")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _known(ENGINES, v, "engine")

    @model_validator(mode="after")
    def _coherent(self) -> EngineConfig:
        if self.name == "local" and self.ray_address:
            raise ValueError("--ray-address applies to --engine ray only")
        if self.name == "ray" and self.workers != 1:
            raise ValueError(f"--workers {self.workers} applies to --engine local; --engine ray uses every CPU "
                             "Ray has")
        return self


class OutputConfig(_Model):
    """The output folder and what is written besides the rows."""

    dir: Path = setting(description="output folder; several builds may share it")
    link_images: bool = setting(False, description="symlink the images into OUT/images/<prefix>_<split>/")
    validate_rows: bool = setting(True, description="check the written file against the schema", alias="validate")
    resume: bool = setting(False, description="keep the shards an interrupted build finished")
    progress: bool = setting(True, description="show a progress bar")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("dir")
    @classmethod
    def _dir(cls, v: Path) -> Path:
        if v.exists() and not v.is_dir():
            raise ValueError(f"{v} exists and is not a folder")
        for parent in v.absolute().parents:
            if parent.exists():
                if not parent.is_dir():
                    raise ValueError(f"{v}: {parent} is not a folder")
                break
        return v


class BuildConfig(_Model):
    """One build: one source and split into one output folder."""

    source: SourceConfig = rows()
    generator: GeneratorConfig = rows(GeneratorConfig())
    engine: EngineConfig = setting(EngineConfig())
    output: OutputConfig = setting()
    seed: int = rows(0, description="same inputs and seed give the same output")

    def resume_settings(self) -> dict[str, Any]:
        """Exactly what decides the rows, and the toolkit version (the resume fingerprint)."""
        from scar import __version__

        return {"toolkit": __version__, **self.row_settings()}

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.resume_settings(), sort_keys=True).encode()).hexdigest()[:16]

    @classmethod
    def of(cls, data: dict[str, Any], where: str = "") -> BuildConfig:
        """Validate ``data``; a ScarUserError naming every bad field otherwise."""
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise ScarUserError(describe(e, where)) from None


def describe(err: ValidationError, where: str = "", flags: dict[tuple, str] | None = None) -> str:
    """One line per problem, with the field path (or its command-line flag)."""
    lines = []
    for e in err.errors():
        loc = tuple(str(x) for x in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        name = (flags or {}).get(loc) or ("" if "--" in msg else ".".join(loc))
        lines.append(f"{name}: {msg}" if name else msg)
    head = f"{where}: " if where else ""
    return head + ("; ".join(lines) if len(lines) == 1 else "\n  " + "\n  ".join(lines))


def merge(*layers: dict[str, Any]) -> dict[str, Any]:
    """Deep merge of nested dicts; later layers win, key by key."""
    out: dict[str, Any] = {}
    for layer in layers:
        for k, v in (layer or {}).items():
            if isinstance(v, dict) and isinstance(out.get(k), dict):
                out[k] = merge(out[k], v)
            else:
                out[k] = v
    return out
