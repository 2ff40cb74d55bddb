"""Same vectors on an accelerator: every model wrapper on a tiny random checkpoint, encoded on
the CPU in float32 and on CUDA in float32 and bfloat16, compared input by input.

    python tools/device_check.py --json OUT.json

Run on a machine with a GPU (this project's CI has none). Float32 on CUDA must match the CPU
closely (TF32 is switched off so matmuls stay float32); bfloat16 is reported as a cosine
to the float32 vectors, the figure a user of `--dtype bf16` cares about. Where the
parity goldens exist (tests/fixtures/parity/), the CUDA vectors are also compared with them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _inputs():
    from PIL import Image

    from scar.eval.embedders import EmbedInput

    rng = np.random.default_rng(3)
    img = Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8))
    img2 = Image.fromarray(rng.integers(0, 255, (64, 48, 3), dtype=np.uint8))
    q = "Find the caption that best describes the object\nReferring object bbox: [5.0, 4.0, 35.0, 30.0]"
    return [EmbedInput(q, img, (5.0, 4.0, 30.0, 26.0)), EmbedInput("Represent the given image.", img2),
            EmbedInput("a dog on a table next to a cup"), EmbedInput("cat")]


def _encode(spec: str, args: dict, device: str, dtype: str) -> np.ndarray:
    from scar.eval.embedders import load_embedder

    emb = load_embedder(spec, args=dict(args), device=device, dtype=dtype)
    inputs = _inputs()
    q = emb.encode(inputs[:2], role="query")
    c = emb.encode(inputs[2:], role="candidate")
    v = np.concatenate([np.asarray(q, np.float32), np.asarray(c, np.float32)])
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", required=True)
    ap.add_argument("--device", default="cuda")
    a = ap.parse_args()
    import torch
    import transformers

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    from scar.testing.tiny import tiny_clip
    from scar.testing.tiny_qwen2vl import tiny_qwen2vl

    out = {"torch": torch.__version__, "transformers": transformers.__version__,
           "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "wrappers": {}}
    small = {"min_pixels": "3136", "max_pixels": "12544"}
    with tempfile.TemporaryDirectory() as tmp:
        clip = tiny_clip(Path(tmp) / "clip")
        qwen = tiny_qwen2vl(Path(tmp) / "qwen")
        specs = {"clip": (f"clip:{clip}", {}), "clip@crop": (f"clip:{clip}@crop", {}),
                 "clip@red-circle": (f"clip:{clip}@red-circle", {}),
                 "vlm2vec": (f"vlm2vec:{qwen}", small), "gme": (f"gme:{qwen}", small),
                 "virtue": (f"virtue:{qwen}", small)}
        for name, (spec, args) in specs.items():
            row: dict = {}
            try:
                t = time.perf_counter()
                cpu = _encode(spec, args, "cpu", "float32")
                gpu = _encode(spec, args, a.device, "float32")
                bf = _encode(spec, args, a.device, "bf16")
                row = {"max_abs_diff_cuda_fp32_vs_cpu": float(np.abs(gpu - cpu).max()),
                       "min_cosine_cuda_bf16_vs_cpu_fp32": float((bf * cpu).sum(1).min()),
                       "seconds": round(time.perf_counter() - t, 2)}
            except Exception as e:  # noqa: BLE001 - report every wrapper, keep going
                row = {"error": f"{type(e).__name__}: {e}"}
            out["wrappers"][name] = row
            print(name, json.dumps(row), flush=True)
    Path(a.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0 if all("error" not in r for r in out["wrappers"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
