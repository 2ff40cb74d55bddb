"""A build moves WordNet's objects out of the garbage collector's way once they are loaded
(``engines.local.freeze_loaded_tables``): later full collections do not walk them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from scar.testing.synthetic import write_synthetic_coco

SCRIPT = """
import gc, json, sys
sys.path.insert(0, sys.argv[3])
from support import cfg
from scar import lexicon
from scar.build.pipeline import build
before = (lexicon.wordnet.cache_info().currsize, gc.get_freeze_count())
rep = build(cfg("coco", sys.argv[1], "val", sys.argv[2]))
loaded, frozen = lexicon.wordnet.cache_info().currsize, gc.get_freeze_count()
gc.collect()
print(json.dumps({"before": before, "loaded": loaded, "frozen": frozen, "rows": rep.rows,
                  "tracked": len(gc.get_objects())}))
"""


def test_a_lexical_build_freezes_wordnet_once_loaded(tmp_path):
    root = write_synthetic_coco(tmp_path / "src", n_images=20, seed=3)
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, "-c", SCRIPT, str(root), str(tmp_path / "out"), str(Path(__file__).parent)],
                       capture_output=True, text=True, env=env, timeout=240)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert res["before"] == [0, 0]  # a fresh process: nothing loaded, nothing frozen
    assert res["loaded"] == 1 and res["rows"] > 0
    # WordNet's reader alone is a few hundred thousand objects: frozen, no longer tracked (what
    # a full collection walks)
    assert res["frozen"] > 200_000, res
    assert res["tracked"] < res["frozen"], res
