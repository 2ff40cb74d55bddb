"""Suites declared as data (``scar/data/suites/scar.yaml``, ``scar/data/suites/mmeb.yaml``): which
tasks, where they come from, their meta-task and IND/OOD split, and how the suite's
aggregate scores are formed (means over tasks, only over complete groups)."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from scar.registry import suggest
from scar.eval.tasks.base import Task
from scar.errors import MissingInput, ScarUserError, UnknownName

log = logging.getLogger(__name__)
SUITES = ("scar", "mmeb")
_HF = re.compile(r"^hf://(?P<repo>[^@]+?)(?:@(?P<rev>.+))?$")


@dataclass(frozen=True)
class SuiteTask:
    name: str
    meta_task: str | None = None
    ind_ood: str | None = None
    file: str | None = None
    column: str | None = None


@dataclass(frozen=True)
class Suite:
    name: str
    loader: str  # "scar" | "mmeb"
    tasks: tuple[SuiteTask, ...]
    hub: str | None = None
    revision: str | None = None
    split: str = "test"
    main_score: str = "precision_at_1"
    groups: tuple[str, ...] = ()
    path: Path | None = None

    def task(self, name: str) -> SuiteTask:
        for t in self.tasks:
            if t.name == name:
                return t
        raise UnknownName(f"suite {self.name}: no task {name!r}{suggest(name, [t.name for t in self.tasks])}")


def benchmarks_dir() -> Path:
    """``$SCAR_BENCHMARKS``, else the suites shipped as package data (``scar/data/suites/``,
    read with ``importlib.resources``, so a wheel install finds them)."""
    from importlib import resources

    env = os.environ.get("SCAR_BENCHMARKS")
    return Path(env) if env else Path(str(resources.files("scar.data").joinpath("suites")))


def load_suite(name_or_path: str | Path) -> Suite:
    """A suite by name (``scar``, ``mmeb``) or by the path of its YAML file."""
    import yaml

    p = Path(name_or_path)
    if p.suffix not in (".yaml", ".yml"):
        p = benchmarks_dir() / f"{name_or_path}.yaml"
    if not p.is_file():
        raise MissingInput(f"suite file {p} not found (run from a source checkout of scar, or set "
                                "SCAR_BENCHMARKS to the folder holding scar.yaml and mmeb.yaml)")
    data = yaml.load(p.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    for key in ("suite", "loader", "tasks"):
        if key not in data:
            raise ScarUserError(f"{p}: missing field {key!r}")
    if data["loader"] not in SUITES:
        raise ScarUserError(f"{p}: loader {data['loader']!r} must be one of {SUITES}")
    tasks = []
    for i, t in enumerate(data["tasks"]):
        if not isinstance(t, dict) or "name" not in t:
            raise ScarUserError(f"{p}: tasks[{i}] needs a 'name'")
        unknown = set(t) - set(SuiteTask.__dataclass_fields__)
        if unknown:
            raise ScarUserError(f"{p}: tasks[{i}] ({t['name']}): unknown field(s) {sorted(unknown)}")
        tasks.append(SuiteTask(**{k: (None if v is None else str(v)) for k, v in t.items()}))
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ScarUserError(f"{p}: a task is listed twice")
    return Suite(str(data["suite"]), data["loader"], tuple(tasks), data.get("hub"), data.get("revision"),
                 str(data.get("split", "test")), str(data.get("main_score", "precision_at_1")),
                 tuple(data.get("groups") or ()), p)


def aggregate(scores: dict[str, float], suite: Suite) -> dict[str, float | None]:
    """Means over tasks: per meta-task (``groups``), IND, OOD and Overall (all tasks).
    An aggregate is None unless every task it averages has a score."""
    def mean(names: list[str]) -> float | None:
        if not names or any(n not in scores or scores[n] is None for n in names):
            return None
        return sum(scores[n] for n in names) / len(names)

    out: dict[str, float | None] = {}
    for g in suite.groups:
        out[g] = mean([t.name for t in suite.tasks if t.meta_task == g])
    for split in ("IND", "OOD"):
        members = [t.name for t in suite.tasks if t.ind_ood == split]
        if members:
            out[split] = mean(members)
    out["Overall"] = mean([t.name for t in suite.tasks])
    return out


def _split(specs: list[str] | None) -> list[str]:
    return [s.strip() for spec in (specs or []) for s in spec.split(",") if s.strip()]


def resolve_tasks(specs: list[str] | None, data: str | Path, image_root: str | Path | None = None) -> list[Task]:
    """``--tasks`` values (suite names, suite YAML paths, task names; comma-separated or
    repeated) to tasks reading ``data``: a SCaR eval file or folder, a local MMEB-eval
    copy, or ``hf://OWNER/NAME[@REVISION]`` for the Hub. No ``--tasks``: every
    ``SCaR_eval_*.parquet`` in ``data``."""
    from scar.eval.tasks.scar_task import ScarTask, scar_tasks

    names = _split(specs)
    hub = _HF.match(str(data))
    if not hub and not Path(str(data)).exists():
        raise MissingInput(f"--data {data}: no such file or folder")
    if not names:
        if hub:
            raise ScarUserError("--data hf://... needs --tasks (e.g. --tasks mmeb)")
        return list(scar_tasks(data, image_root))
    suites = {s: None for s in SUITES}

    def suite(n: str) -> Suite:
        if suites.get(n) is None:
            suites[n] = load_suite(n)
        return suites[n]

    wanted: list[tuple[Suite | None, str]] = []
    for n in names:
        if n in SUITES or n.endswith((".yaml", ".yml")):
            s = suite(n) if n in SUITES else load_suite(n)
            wanted += [(s, t.name) for t in s.tasks]
        elif any(n == t.name for t in suite("scar").tasks):
            wanted.append((suite("scar"), n))
        elif any(n == t.name for t in suite("mmeb").tasks):
            wanted.append((suite("mmeb"), n))
        elif n.startswith("SCaR_"):
            wanted.append((None, n))  # a SCaR-format file outside the official five (e.g. SCaR_Sample)
        else:
            import difflib

            known = [*SUITES, *(t.name for s in SUITES for t in suite(s).tasks)]
            close = difflib.get_close_matches(n, known, n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else " (`scar tasks` lists them)"
            raise UnknownName(f"unknown task or suite {n!r}{hint}")
    wanted = list(dict.fromkeys(wanted))

    data_dir, commit = Path(str(data)), None
    if hub:
        from scar.eval.tasks.mmeb import hub_snapshot

        if any(s is None or s.loader != "mmeb" for s, _ in wanted):
            raise ScarUserError("--data hf://... serves MMEB tasks only; SCaR files are read from a local folder")
        data_dir, hub_images, commit = hub_snapshot(hub["repo"], [n for _, n in wanted], hub["rev"],
                                                    images=image_root is None)
        image_root = image_root or hub_images
    elif not data_dir.exists():
        raise MissingInput(f"--data {data}: no such file or folder")
    tasks: list[Task] = []
    missing = []
    for s, n in wanted:
        if s is None or s.loader == "scar":
            fname = (s.task(n).file if s else None) or f"SCaR_eval_{n[len('SCaR_'):]}.parquet"
            path = data_dir if data_dir.is_file() and data_dir.name == fname else data_dir / fname
            if not path.is_file():
                missing.append(str(path))
                continue
            tasks.append(ScarTask(path, image_root or path.parent / "images",
                                  dataset_revision=s.revision if s else None, suite=s.name if s else "scar"))
        else:
            from scar.eval.tasks.mmeb import MmebTask

            t = s.task(n)
            try:
                tasks.append(MmebTask(n, data_dir, image_root, meta_task=t.meta_task, ind_ood=t.ind_ood,
                                      dataset_revision=commit or s.revision, split=s.split, suite=s.name,
                                      dataset=s.hub or str(data_dir)))
            except FileNotFoundError as e:
                missing.append(str(e))
    if missing:
        raise MissingInput(f"{len(missing)} task file(s) not found under {data}: " + "; ".join(missing[:5]))
    return tasks
