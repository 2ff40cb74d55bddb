"""The Ray engine (``--engine ray``): the build's steps as Ray Data stages.

The driver reads the source (the annotation index lives there) and streams the image
groups, pickled in chunks, through a bounded Ray queue into one Ray Data read task (no
CPU), which yields them as Arrow blocks of about ``BLOCK_BYTES``, so nothing is
materialised and memory stays bounded whatever the dataset size. The steps
are cut into stages at each step that declares a worker pool (``Step.resources().pool``:
an LLM step, the SAM ``masks`` step):

- CPU stages (composition, WordNet swaps, checks) are ``map_batches`` tasks over Arrow
  batches (``index``: the group's position in the source, ``payload``: the pickled group
  or partial :class:`GroupResult`); they spread over every CPU of the cluster and each
  worker process keeps its deserialised steps (and WordNet) between tasks;
- a pool stage is a pool of ``llm_actors`` async actors (one per GPU of the cluster for a
  step that asks GPUs: SAM on CUDA), each reserving the step's ``resources()``. An actor takes one window of images at a
  time (nltk's WordNet reader, which parsing uses, is not thread-safe); an LLM step sends
  the window's requests concurrently, bounded by the step's own semaphore
  (``--llm-concurrency``): at most that many requests are in flight per actor. A
  ``--max-cost`` budget is one Ray actor shared by all of them. The SAM step loads its
  model once per actor and runs the window's images in forward passes of ``--sam-batch``.

Results come back in the source's order (Ray Data's ``preserve_order``, and a reorder
buffer on ``index`` as a guard), so both engines write byte-identical files.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import hashlib
import logging
import os
import pickle
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from scar.build.base import Group, Resources, Step
from scar.build.engines.local import GroupResult, freeze_loaded_tables, run_steps

log = logging.getLogger(__name__)

INSTALL_HINT = "--engine ray needs Ray Data: pip install 'scar[scale]' (or pip install 'ray[data]')"


def check_ray():
    """The ``ray`` module, or a RuntimeError saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        from scar.errors import MissingExtra

        raise MissingExtra(f"{INSTALL_HINT} ({e})") from e
    return ray


def stages(steps: list[Step]) -> list[tuple[str, list[Step]]]:
    """Consecutive CPU steps form one ``cpu`` stage; each step that declares a worker pool
    (``Step.resources().pool``: an LLM step, a model) is a ``pool`` stage on actors."""
    out: list[tuple[str, list[Step]]] = []
    for st in steps:
        if st.resources().pool:
            out.append(("pool", [st]))
        elif out and out[-1][0] == "cpu":
            out[-1][1].append(st)
        else:
            out.append(("cpu", [st]))
    return out


# -- worker side -----------------------------------------------------------------------
_STEPS: dict[str, list[Step]] = {}


def _steps_of(blob: bytes) -> list[Step]:
    """Steps deserialised once per worker process (tasks of a stage share them)."""
    key = hashlib.sha256(blob).hexdigest()
    if key not in _STEPS:
        _STEPS[key] = pickle.loads(blob)
    return _STEPS[key]


def _apply(batch, steps: list[Step], first: bool, last: bool):
    import pyarrow as pa

    out = []
    for payload in batch.column("payload").to_pylist():
        obj = pickle.loads(payload)
        res = GroupResult.of(obj) if first else obj
        out.append(pickle.dumps(run_steps(steps, res, release_context=last), protocol=pickle.HIGHEST_PROTOCOL))
    freeze_loaded_tables()  # in this worker, once its steps have loaded WordNet (engines/local.py)
    return pa.table({"index": batch.column("index"), "payload": pa.array(out, pa.large_binary())})


def _cpu_stage(batch, blob: bytes, first: bool, last: bool):
    return _apply(batch, _steps_of(blob), first, last)


class _PoolStage:
    """An async actor running one pool stage (an LLM step, SAM), one batch (window) at a
    time: Ray Data may hand it several batches at once, and the steps (their counts,
    WordNet, a model) are not thread-safe."""

    def __init__(self, blob: bytes, first: bool, last: bool) -> None:
        self.steps = pickle.loads(blob)
        self.first, self.last = first, last
        self.lock: asyncio.Lock | None = None

    async def __call__(self, batch):
        if self.lock is None:
            self.lock = asyncio.Lock()
        async with self.lock:  # the step runs its requests on its own event loop, in a thread
            return await asyncio.to_thread(_apply, batch, self.steps, self.first, self.last)


class _SharedBudget:
    """The ``Budget`` interface (``try_reserve``/``settle``/``spent``) over one Ray actor."""

    def __init__(self, actor, max_cost: float | None) -> None:
        self.actor, self.max_cost = actor, max_cost

    def try_reserve(self, amount: float) -> str:
        import ray

        return ray.get(self.actor.try_reserve.remote(amount))

    def settle(self, reserved: float, booked: float) -> None:
        import ray

        ray.get(self.actor.settle.remote(reserved, booked))

    @property
    def spent(self) -> float:
        import ray

        return ray.get(self.actor.spent.remote())


class _BudgetActor:
    def __init__(self, max_cost: float | None, spent: float) -> None:
        self.max_cost, self.v = max_cost, [spent, 0.0]

    def try_reserve(self, amount: float) -> str:
        from scar.build.llm.client import _reserve

        return _reserve(self.v, self.max_cost, amount)

    def settle(self, reserved: float, booked: float) -> None:
        self.v[1] -= reserved
        self.v[0] += min(max(booked, 0.0), reserved)

    def spent(self) -> float:
        return self.v[0]


def portable(steps: list[Step], ray) -> tuple[list[Step], list]:
    """Copies of the steps that can travel to Ray workers: a budget becomes one shared
    actor (steps that share a budget, generation and judge, share the actor); a local
    LLM server stays with the driver (its URL is in the step's config)."""
    out, actors, shared = [], [], {}
    for st in steps:
        llm = st.llm
        if llm is None:
            out.append(st)
            continue
        budget = llm.budget
        if id(budget) not in shared:
            actor = ray.remote(num_cpus=0)(_BudgetActor).remote(budget.max_cost, float(budget.spent))
            actors.append(actor)
            shared[id(budget)] = _SharedBudget(actor, budget.max_cost)
        st = copy.copy(st)
        st.bind_llm(dataclasses.replace(llm, budget=shared[id(budget)], server=None))
        out.append(st)
    return out, actors


def check_gpus(steps: list[Step], cluster: dict[str, float]) -> None:
    """Refuse a step that asks for more GPUs per worker than the Ray cluster has (Ray would
    wait for them for ever)."""
    have = float(cluster.get("GPU", 0))
    for st in steps:
        want = st.resources().gpus
        if want > have:
            from scar.errors import ScarUserError

            raise ScarUserError(f"--engine ray: step {st.name!r} asks for {want:g} GPU per worker and the Ray "
                                f"cluster has {have:g}; join a cluster with GPUs (--ray-address) or run it "
                                "on CPU (CUDA_VISIBLE_DEVICES= on the driver)")


def pool_size(res: Resources, cluster: dict[str, float], default: int = 1) -> int:
    """Actors of a pool stage: one per GPU share of the cluster for a step that asks GPUs
    (SAM on CUDA: every GPU works), else ``default`` (``llm_actors``)."""
    if res.gpus > 0:
        return max(1, int(float(cluster.get("GPU", 0)) // res.gpus))
    return default


def _blob(steps: list[Step]) -> bytes:
    try:
        return pickle.dumps(steps, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as e:  # noqa: BLE001 - name the step that cannot travel
        for st in steps:
            try:
                pickle.dumps(st)
            except Exception as err:  # noqa: BLE001
                raise RuntimeError(f"--engine ray: step {st.name!r} ({type(st).__name__}) cannot be sent to "
                                   f"Ray workers: {err}") from err
        raise RuntimeError(f"--engine ray: the steps cannot be sent to Ray workers: {e}") from e


# -- driver side -----------------------------------------------------------------------
_END = None
BLOCK_BYTES = 512 * 1024  # pickled groups per Ray Data block (one task): ~400 images of the lexical path


def _feed_source(queue):
    """A Ray Data datasource with one read task that yields the chunks put on ``queue``."""
    import pyarrow as pa
    from ray.data import Datasource
    from ray.data.block import BlockMetadata
    from ray.data.datasource import ReadTask

    class QueueFeed(Datasource):
        def estimate_inmemory_data_size(self):
            return None

        def get_read_tasks(self, parallelism, per_task_row_limit=None, data_context=None):
            def read():
                while True:
                    item = queue.get()
                    if item is _END:
                        return
                    start, payloads = item
                    yield pa.table({"index": pa.array(range(start, start + len(payloads)), pa.int64()),
                                    "payload": pa.array(payloads, pa.large_binary())})

            meta = BlockMetadata(num_rows=None, size_bytes=None, input_files=None, exec_stats=None)
            return [ReadTask(read, meta)]

    return QueueFeed()


class _Producer(threading.Thread):
    """Pickles the groups in source order into chunks on the queue (bounded: it waits
    while the stages are busy); an error is kept for the driver to raise."""

    def __init__(self, groups: Iterable, queue, chunk: int) -> None:
        super().__init__(name="scar-ray-feed", daemon=True)
        self.groups, self.queue, self.chunk = groups, queue, chunk
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.count = 0

    def _put(self, item) -> bool:
        from ray.util.queue import Full

        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.5)
                return True
            except Full:
                continue
        return False

    def run(self) -> None:
        buf: list[bytes] = []
        try:
            for g in self.groups:
                buf.append(pickle.dumps(g, protocol=pickle.HIGHEST_PROTOCOL))
                self.count += 1
                if len(buf) == self.chunk:
                    if not self._put((self.count - len(buf), buf)):
                        return
                    buf = []
        except BaseException as e:  # noqa: BLE001 - raised again by the driver
            self.error = e
        finally:  # the groups read before an error are still processed (as the local engine does)
            if buf and not self.stop.is_set():
                self._put((self.count - len(buf), buf))
            if not self.stop.is_set():
                self._put(_END)


def connect(address: str | None = None) -> bool:
    """Join the running Ray (or ``address``, or ``RAY_ADDRESS``), else start a local one.
    True when this call started Ray (the engine then shuts it down)."""
    ray = check_ray()
    if ray.is_initialized():
        if address:
            log.warning("Ray is already initialised in this process; --ray-address %s is not used", address)
        return False
    env = {k: os.environ[k] for k in ("NLTK_DATA", "SCAR_CACHE", "HF_HUB_OFFLINE") if k in os.environ}
    ray.init(address=address or None, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": env} if env else None)
    log.info("Ray: %s CPUs in the cluster", ray.cluster_resources().get("CPU"))
    return True


def run_ray(groups: Iterable[Group], steps: list[Step], *, address: str | None = None, batch_size: int = 16,
            llm_actors: int = 1, chunk: int = 64, queue_chunks: int = 8) -> Iterator[GroupResult]:
    """Run ``steps`` over ``groups`` on Ray Data; yield the results in the groups' order.

    ``batch_size``: groups per ``map_batches`` batch (an LLM window is one group; a task
    takes a block of about ``BLOCK_BYTES``); ``llm_actors``: actors per LLM stage;
    ``chunk``: groups per item of the feed queue; ``queue_chunks``: items the queue holds
    (the driver waits beyond that)."""
    ray = check_ray()
    from ray.data import ActorPoolStrategy, DataContext
    from ray.util.queue import Queue

    started = connect(address)
    ctx = DataContext.get_current()
    saved = (ctx.execution_options.preserve_order, ctx.enable_progress_bars, ctx.target_max_block_size,
             ctx.op_resource_reservation_enabled)
    producer = None
    queue = None
    actors: list = []
    try:
        ctx.execution_options.preserve_order = True
        ctx.enable_progress_bars = False
        # Ray Data merges the feed's small blocks up to this size (default 128 MiB: one task
        # for everything); about BLOCK_BYTES per task keeps every CPU busy
        ctx.target_max_block_size = BLOCK_BYTES
        # the feed's read task uses no CPU: do not hold CPUs back for it (on 2 CPUs the default
        # reservation left one map task at a time)
        ctx.op_resource_reservation_enabled = False
        travelling, actors = portable(steps, ray)
        queue = Queue(maxsize=queue_chunks, actor_options={"num_cpus": 0})
        ds = ray.data.read_datasource(_feed_source(queue), override_num_blocks=1, num_cpus=0)
        plan = stages(travelling)
        cluster = ray.cluster_resources()
        check_gpus([st for kind, sts in plan if kind == "pool" for st in sts], cluster)
        for k, (kind, group_steps) in enumerate(plan):
            first, last, blob = k == 0, k == len(plan) - 1, _blob(group_steps)
            if kind == "cpu":
                ds = ds.map_batches(_cpu_stage, fn_kwargs={"blob": blob, "first": first, "last": last},
                                    batch_size=batch_size, batch_format="pyarrow", num_cpus=1)
            else:
                res = group_steps[0].resources()  # an actor stage holds one step
                gpus = {"num_gpus": res.gpus} if res.gpus else {}
                ds = ds.map_batches(_PoolStage, fn_constructor_kwargs={"blob": blob, "first": first, "last": last},
                                    batch_size=1, batch_format="pyarrow", num_cpus=res.cpus, **gpus,
                                    compute=ActorPoolStrategy(size=pool_size(res, cluster, llm_actors),
                                                              max_concurrent_calls_per_actor=1))
        producer = _Producer(groups, queue, chunk)
        producer.start()
        pending: dict[int, GroupResult] = {}
        expected = 0
        for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None, prefetch_batches=1):
            for i, payload in zip(batch.column("index").to_pylist(), batch.column("payload").to_pylist()):
                pending[i] = pickle.loads(payload)
                while expected in pending:
                    yield pending.pop(expected)
                    expected += 1
        producer.join()
        if producer.error is not None:
            raise producer.error
        if pending or expected != producer.count:
            raise RuntimeError(f"--engine ray: {producer.count} groups sent, {expected} returned in order "
                               f"({len(pending)} out of order)")
    finally:
        if producer is not None:
            producer.stop.set()
            producer.join(timeout=5)
        (ctx.execution_options.preserve_order, ctx.enable_progress_bars, ctx.target_max_block_size,
         ctx.op_resource_reservation_enabled) = saved
        if started:
            ray.shutdown()
        else:
            for a in actors + ([queue.actor] if queue is not None else []):
                ray.kill(a)
