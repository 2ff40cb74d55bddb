"""Shared plumbing of the wrappers over torch/transformers (imported lazily):
device and dtype choice, autocast, and the revision actually loaded."""

from __future__ import annotations

import contextlib
import logging
import re
from pathlib import Path

from scar.cache import files_digest
from scar.errors import MissingExtra, ScarUserError

log = logging.getLogger(__name__)
DTYPES = {"float32": "float32", "fp32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16",
          "fp16": "float16", "float16": "float16"}
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def pick_device(device: str | None) -> str:
    import torch

    if device in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise MissingExtra(f"--device {device}: CUDA is not available here (torch {torch.__version__})")
    return device


def check_dtype(dtype: str | None, device: str) -> str:
    """Canonical dtype name; half precision runs under autocast (weights stay float32)."""
    name = DTYPES.get((dtype or "float32").lower())
    if name is None:
        raise ScarUserError(f"--dtype {dtype!r}: use one of float32, bf16, fp16")
    if name == "float16" and not device.startswith("cuda"):
        raise ScarUserError("--dtype fp16 needs a CUDA device (use bf16 or float32 on CPU)")
    return name


def autocast(device: str, dtype: str):
    import torch

    if dtype == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.split(":")[0], dtype=getattr(torch, dtype))


def local_revision(path: Path) -> str:
    """``local-<hash>`` of a local model folder: names and bytes of its files."""
    files = sorted(p for p in path.rglob("*") if p.is_file() and ".cache" not in p.parts)
    return "local-" + files_digest(files, path)[:12]


def hub_reachable(timeout: float = 2.0) -> bool:
    """False when ``HF_HUB_OFFLINE`` is set or the Hub's host cannot be reached within
    ``timeout`` seconds (huggingface_hub would otherwise retry for half a minute)."""
    import socket
    import urllib.parse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    u = urllib.parse.urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((u.hostname, u.port or (443 if u.scheme == "https" else 80)), timeout=timeout):
            return True
    except OSError:
        return False


def resolve(model: str, revision: str | None) -> tuple[str, str]:
    """(what to pass to from_pretrained, the revision it will load): a local folder's
    content hash, or the Hub commit that ``revision`` (None: the default branch) is at."""
    p = Path(model).expanduser()
    if p.is_dir():
        if revision:
            log.warning("%s is a local folder: --revision %s is ignored", model, revision)
        return str(p), local_revision(p)
    if revision and _COMMIT.match(revision):
        return model, revision
    from huggingface_hub import hf_hub_download

    if not hub_reachable():  # offline: the local cache or nothing, at once (no retries)
        try:
            cfg = hf_hub_download(model, "config.json", revision=revision, local_files_only=True)
        except Exception as e:
            from scar.errors import MissingExtra

            raise MissingExtra(f"model {model!r} (revision {revision or 'default'}) is not in the local Hugging Face "
                               "cache and the Hub cannot be reached; download it where there is a connection "
                               f"(`hf download {model}`) or give a local folder") from e
    else:
        try:
            cfg = hf_hub_download(model, "config.json", revision=revision)
        except Exception as e:  # unknown repo, gated...: name the model and the cause
            raise MissingExtra(f"cannot resolve model {model!r} (revision {revision or 'default'}) locally or on "
                               f"the Hub: {type(e).__name__}: {e}") from e
    m = re.search(r"snapshots/([0-9a-f]{40})/", Path(cfg).as_posix())
    return model, m.group(1) if m else (revision or "unpinned")
