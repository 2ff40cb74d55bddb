"""Multi-process evaluation on CPU with the gloo backend: shard/gather with uneven shards
and per-input errors (2 processes via torch.multiprocessing), and `torchrun
--nproc_per_node 2 -m scar.cli eval` giving the same result as one process."""

import json
import os
import pickle
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scar.eval import dist
from scar.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, out: str) -> None:
    import torch.distributed as d

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    d.init_process_group("gloo", rank=rank, world_size=2)
    try:
        todo = [3, 0, 9, 4, 7, 1, 8]  # 7 inputs: shards of 4 and 3 rows, the last padded
        mine = dist.shard(todo)
        raw, errors = {}, {2: "missing image"}  # 2: failed before encoding, the same on every rank
        for i in mine:
            if i == 7:
                errors[i] = "invalid vector"
            else:
                raw[i] = np.array([i, i * 10, -i], np.float32)
        dist.gather(todo, raw, errors)
        got = {"mine": mine, "raw": {k: v.tolist() for k, v in raw.items()}, "errors": errors,
               "rank": dist.rank(), "world": dist.world_size(), "main": dist.is_main()}
        try:
            dist.shard(todo if rank == 0 else todo[:-1])
        except RuntimeError as e:
            got["disagree"] = str(e)
        Path(out, f"rank{rank}.pkl").write_bytes(pickle.dumps(got))
    finally:
        d.destroy_process_group()


def test_without_torchrun_everything_is_a_noop(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert dist.init_from_env() is None and dist.rank() == 0 and dist.world_size() == 1 and dist.is_main()
    raw, errors = {1: np.ones(2)}, {}
    assert dist.shard([5, 1, 2]) == [5, 1, 2]
    dist.gather([5, 1, 2], raw, errors)
    assert list(raw) == [1] and errors == {}


@pytest.mark.slow
def test_shard_and_gather_on_two_gloo_ranks(tmp_path):
    import torch  # a missing extra fails, never skips; imported here, not by processes this module spawns

    torch.multiprocessing.spawn(_worker, args=(_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (pickle.loads((tmp_path / f"rank{r}.pkl").read_bytes()) for r in (0, 1))
    assert r0["mine"] == [3, 0, 9, 4] and r1["mine"] == [7, 1, 8]
    assert (r0["main"], r1["main"], r0["world"]) == (True, False, 2)
    for r in (r0, r1):
        assert r["raw"] == {i: [i, i * 10, -i] for i in (3, 0, 9, 4, 1, 8)}
        assert r["errors"] == {2: "missing image", 7: "invalid vector"}
        assert "ranks disagree on the inputs to encode (counts [7, 6])" in r["disagree"]


@pytest.mark.slow
def test_torchrun_eval_matches_one_process(tmp_path, sample_build, monkeypatch):
    import torch

    from scar.testing.tiny_qwen2vl import tiny_qwen2vl

    ckpt = tiny_qwen2vl(tmp_path / "tiny-qwen2vl")
    common = ["eval", "--data", str(sample_build.path.parent), "--model", f"vlm2vec:{ckpt}", "--max-pixels", "12544",
              "-q"]
    monkeypatch.setenv("SCAR_CACHE", str(tmp_path / "cache1"))
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # see test_embedders_vlm: a 2-core machine shared with the other rank
    try:
        assert main(common + ["--out", str(tmp_path / "one")]) == 0
    finally:
        torch.set_num_threads(n)
    env = {**os.environ, "SCAR_CACHE": str(tmp_path / "cache2"), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT)}
    torchrun = Path(sys.executable).with_name("torchrun")
    proc = subprocess.run([str(torchrun), "--nproc_per_node", "2", "--master_port", str(_port()), "-m", "scar.cli",
                           *common, "--out", str(tmp_path / "two")], env=env, capture_output=True, text=True,
                          timeout=240)
    failing = [line for line in proc.stderr.splitlines() if line.startswith("[rank1]")]  # else cut off below
    assert proc.returncode == 0, "\n".join(failing[-40:]) + "\n...\n" + proc.stderr[-3000:]
    assert "RuntimeWarning" not in proc.stderr  # `-m scar.cli`, not `-m scar.cli.main` (runpy warns on that)
    (one,) = (tmp_path / "one").rglob("SCaR_Sample.json")
    (two,) = (tmp_path / "two").rglob("SCaR_Sample.json")  # one file: only rank 0 writes
    a, b = json.loads(one.read_text()), json.loads(two.read_text())
    assert b["n"] == a["n"] == sample_build.rows and b["main_score"] == a["main_score"]
    assert b["tie_rate"] == a["tie_rate"] and b["settings"] == a["settings"]
    for k, v in a["scores"].items():
        assert b["scores"][k] == pytest.approx(v, abs=1e-6), k
    assert b["timings"]["query_encoded"] == -(-sample_build.rows // 2)  # rank 0 encoded its half
    assert sum("SCaR_Sample" in line for line in proc.stdout.splitlines()) == 1  # rank 0 prints


def _open_caches(folder: str, rounds: int, barrier) -> None:
    from scar.eval.embedders import load_embedder
    from scar.eval.embedders.cache import EmbeddingCache

    emb = load_embedder("random")
    for k in range(rounds):
        barrier.wait(timeout=60)  # both processes open the same new file at the same moment
        cache = EmbeddingCache(emb, Path(folder) / str(k))
        cache.put_many([(f"key{k}-{os.getpid()}", np.ones(4, np.float32))])
        cache.close()


@pytest.mark.slow  # two spawned processes, 25 rounds
def test_two_processes_open_a_new_embedding_cache_at_once(tmp_path):
    """torchrun's ranks share $SCAR_CACHE and open the cache file together. Without a lock
    around the first open (the switch to WAL does not wait on SQLite's busy timeout), one
    pair in four failed with "database is locked" (CI on 5136b85, rank 1 of
    test_torchrun_eval_matches_one_process); 25 rounds make a regression all but certain
    to show."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_open_caches, args=(str(tmp_path), 25, barrier)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0, 0]
    from scar.eval.embedders import load_embedder
    from scar.eval.embedders.cache import EmbeddingCache

    for k in range(25):
        assert len(EmbeddingCache(load_embedder("random"), tmp_path / str(k))) == 2  # both writes kept
