"""The local engine: steps run in-process, or in a local process pool (``workers > 1``).

Groups (the samples of one image) go through every step in order; results come
back in input order whatever the number of workers, so the output is identical.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from scar.build.base import Group, Rejection, Step, StepStats
from scar.types import Sample


@dataclass
class GroupResult:
    """A group after the steps: the samples that went on, the counts and the rejections;
    ``index`` and ``n_images`` are the group's (``scar.build.base.Group``)."""

    samples: list[Sample]
    stats: dict[str, StepStats] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)
    index: int = 0
    n_images: int = 1
    #: a window's sample ids -> the position of their image in it (None for one image): the
    #: rejections are put in image order after the last step, as one image at a time gives
    image_rank: dict[str, int] | None = None

    @classmethod
    def of(cls, group: Group) -> GroupResult:
        rank = None
        if group.n_images > 1:
            rank, last, k = {}, object(), -1
            for s in group.samples:
                if s.image_id != last:
                    last, k = s.image_id, k + 1
                rank[s.id] = k
        return cls(group.samples, index=group.index, n_images=group.n_images, image_rank=rank)


def process_group(steps: list[Step], group: Group) -> GroupResult:
    return run_steps(steps, GroupResult.of(group))


def run_steps(steps: list[Step], res: GroupResult, *, release_context: bool = True) -> GroupResult:
    """Run ``steps`` on a group's (partial) result; the Ray engine runs them stage by stage
    and releases the context after the last stage only."""
    for step in steps:
        if not res.samples:
            break
        res.samples = step(res.samples)
        stats, rej = step.drain()
        res.stats[step.name] = stats
        res.rejections.extend(rej)
    if release_context:
        for s in res.samples:  # the context stays in the worker; samples carry what the writer needs
            s.context = None
        rank = res.image_rank
        if rank is not None and len(res.rejections) > 1:
            # each step lists a window's rejections in sample order: a stable sort by image gives
            # image by image, step by step within an image, whatever the window (a rejection
            # the window's samples do not name keeps the rank of the one before it)
            keys, k = [], 0
            for r in res.rejections:
                k = rank.get(r.sample_id, k)
                keys.append(k)
            order = sorted(range(len(keys)), key=keys.__getitem__)
            res.rejections = [res.rejections[i] for i in order]
            res.image_rank = None
    return res


_STEPS: list[Step] | None = None
_FROZEN = False


def freeze_loaded_tables() -> bool:
    """Once WordNet is loaded in this process, move every object then alive to the garbage
    collector's permanent generation (``gc.freeze``), once per process; whether it is done.

    WordNet's reader holds about 500,000 tracked objects that live as long as the process and
    never become garbage; every full collection walked them all (about 0.25 s each on the 2-core
    CI machine: a 9,000-sample synthetic build spent 1.3-1.5 s of its 12-15 s of CPU in them,
    0.4-0.5 s with this). Frozen, they are left out of every later collection (and a forked
    worker does not copy their pages by touching their headers). Objects alive at that moment
    that later become cyclic garbage are not reclaimed: a bounded, one-off cost."""
    global _FROZEN
    if not _FROZEN:
        from scar import lexicon

        if lexicon.wordnet.cache_info().currsize:
            gc.freeze()
            _FROZEN = True
    return _FROZEN


def _init(steps: list[Step]) -> None:
    global _STEPS
    _STEPS = steps
    from scar import lexicon

    lexicon.after_fork()


def _work(group: Group) -> GroupResult:
    return process_group(_STEPS, group)


def run_local(groups: Iterable[Group], steps: list[Step], workers: int = 1) -> Iterator[GroupResult]:
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    if workers == 1:
        for g in groups:
            yield process_group(steps, g)
            if not _FROZEN:
                freeze_loaded_tables()
        return
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    if ctx.get_start_method() == "fork":
        from scar import lexicon

        try:  # loaded once here and shared by the forked workers (each then opens its own files)
            lexicon.wordnet()
        except lexicon.WordNetMissing:
            pass  # the steps that need it say so
        freeze_loaded_tables()  # before the fork: the workers inherit it
    with ctx.Pool(workers, initializer=_init, initargs=(steps,)) as pool:
        yield from pool.imap(_work, groups, chunksize=4)
