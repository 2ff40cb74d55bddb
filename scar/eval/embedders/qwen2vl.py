"""Shared base of the Qwen2-VL embedders (``vlm2vec``, ``gme``, ``virtue``): a thin
wrapper over ``transformers.Qwen2VLForConditionalGeneration``, no vendored model code.

Inputs are composed from the tokenizer and the Qwen2-VL *image processor* (not
``Qwen2VLProcessor``/``AutoProcessor``, which need torchvision in transformers 5.x):
a subclass writes the prompt with one ``<|image_pad|>`` where the image goes; this
module expands it to ``grid_t*grid_h*grid_w / merge_size**2`` tokens, exactly as
``Qwen2VLProcessor`` does, tokenizes with the tokenizer's own special-token rules
(Qwen2 adds no BOS/EOS), pads on the LEFT and runs the language model without its LM
head. The vector is the final hidden state (after the last norm) of the last non-pad
token; it is returned raw and the harness L2-normalises it (the reference
implementations normalise in the model, which gives the same cosine scores).

Speed: composition runs in ``prepare`` (the harness's loader threads); the inputs of one
batch are sorted by token length and cut into sub-batches of at most
``max_batch_tokens`` padded tokens; on CUDA the weights load in bf16 and run under
bf16 autocast (``dtype`` defaults to bf16 there, float32 on CPU).
``min_pixels``/``max_pixels`` bound the image resolution (Qwen2-VL's smart resize) and
are recorded in the results' ``resolution``.

A LoRA adapter folder or repo (``adapter_config.json``, e.g. TIGER-Lab's VLM2Vec
checkpoints) is loaded over its base (``base=`` or the adapter's
``base_model_name_or_path``) with ``peft`` and merged.
"""

from __future__ import annotations

import inspect
import json
import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from scar.eval.embedders.base import Embedder, EmbedInput
from scar.eval.embedders.hf import autocast, check_dtype, pick_device, resolve

log = logging.getLogger(__name__)
IMAGE_PAD = "<|image_pad|>"


def image_processor_class():
    """The PIL/numpy Qwen2-VL image processor of this transformers version (5.24 calls
    it ``Qwen2VLImageProcessorPil``; earlier 5.x ``Qwen2VLImageProcessor``)."""
    import transformers

    cls = getattr(transformers, "Qwen2VLImageProcessorPil", None)
    if cls is None:
        from transformers import Qwen2VLImageProcessor as cls
    return cls


def last_token(hidden, mask):
    """Hidden state of each row's last non-pad token, whatever the padding side."""
    import torch

    last = mask.shape[1] - 1 - mask.flip(1).to(torch.long).argmax(1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def adapter_config(path: str, revision: str | None) -> dict | None:
    """``adapter_config.json`` of a local folder or Hub repo, or None."""
    p = Path(path)
    if p.is_dir():
        f = p / "adapter_config.json"
        return json.loads(f.read_text()) if f.is_file() else None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return json.loads(Path(hf_hub_download(path, "adapter_config.json", revision=revision)).read_text())
    except EntryNotFoundError:
        return None


def local_name(family: str, path: str, model: str) -> str:
    """The model id, or for a local folder its name (prefixed by ``family`` unless it has
    it), so that two wrappers over one folder write different result folders."""
    if not Path(path).is_dir():
        return model
    folder = Path(path).name
    return folder if family.lower() in folder.lower() else f"{family}-{folder}"


class Qwen2VLEmbedder(Embedder):
    """Subclass: set ``default_model`` and write ``prompt`` (and maybe ``prepare_image``)."""

    kind = "model"
    modalities = ("text", "image")
    default_model: ClassVar[str] = ""
    family: ClassVar[str] = "qwen2vl"  # prefixes the run name of a local folder not named after it
    min_pixels_default: ClassVar[int] = 28 * 28 * 4
    max_pixels_default: ClassVar[int] = 28 * 28 * 1280

    def __init__(self, model: str | None = None, *, revision: str | None = None, device: str | None = None,
                 dtype: str | None = None, batch_size: int = 8, min_pixels: int | None = None,
                 max_pixels: int | None = None, base: str | None = None, max_batch_tokens: int = 16384,
                 name: str | None = None) -> None:
        model = model or self.default_model
        path, self.revision = resolve(model, revision)
        rev = {} if self.revision.startswith("local-") else {"revision": self.revision}
        self.name = name or local_name(self.family, path, model)
        self.device = pick_device(device)
        self.dtype = check_dtype(dtype or ("bf16" if self.device.startswith("cuda") else None), self.device)
        self.batch_size = int(batch_size)
        self.max_batch_tokens = int(max_batch_tokens)
        self.min_pixels = int(min_pixels or self.min_pixels_default)
        self.max_pixels = int(max_pixels or self.max_pixels_default)
        if self.min_pixels > self.max_pixels:
            raise ValueError(f"{self.name}: min_pixels {self.min_pixels} > max_pixels {self.max_pixels}")
        adapter = adapter_config(path, rev.get("revision"))
        self.base, self._base = None, None
        if adapter is not None:
            import importlib.util

            if importlib.util.find_spec("peft") is None:
                raise RuntimeError(f"{model} is a LoRA adapter: `pip install peft` to load it")
            base_id = base or adapter.get("base_model_name_or_path")
            if not base_id:
                raise ValueError(f"{model}: adapter_config.json names no base model; pass --model-arg base=MODEL")
            base_path, base_rev = resolve(base_id, None)
            self._base = (base_path, {} if base_rev.startswith("local-") else {"revision": base_rev})
            self.base = f"{base_id}@{base_rev}"
        self._path, self._rev, self._model_id = path, rev, model
        self.resolution = f"min_pixels={self.min_pixels},max_pixels={self.max_pixels}"

    def load(self) -> None:
        """Weights, tokenizer and image processor (``ensure_loaded``: only when something must be
        encoded, so a re-run whose results are stored or vectors cached loads nothing)."""
        import torch
        from transformers import AutoTokenizer, Qwen2VLForConditionalGeneration

        path, rev, model = self._path, self._rev, self._model_id
        weights = torch.bfloat16 if self.dtype == "bfloat16" and self.device.startswith("cuda") else torch.float32
        if self._base is None:
            net = Qwen2VLForConditionalGeneration.from_pretrained(path, dtype=weights, **rev)
        else:
            from peft import PeftModel

            base_path, brev = self._base
            net = Qwen2VLForConditionalGeneration.from_pretrained(base_path, dtype=weights, **brev)
            net = PeftModel.from_pretrained(net, path, **rev).merge_and_unload()
        self.model = net.to(self.device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(path, **rev)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.image_processor = image_processor_class().from_pretrained(
            path, min_pixels=self.min_pixels, max_pixels=self.max_pixels, **rev)
        self.merge = int(getattr(self.image_processor, "merge_size", 2))
        self.image_token_id = int(self.model.config.image_token_id)
        if self.tokenizer.convert_tokens_to_ids(IMAGE_PAD) != self.image_token_id:
            raise ValueError(f"{model}: tokenizer maps {IMAGE_PAD} to {self.tokenizer.convert_tokens_to_ids(IMAGE_PAD)} "
                             f"but the model's image_token_id is {self.image_token_id}")
        self._mm_types = "mm_token_type_ids" in inspect.signature(self.model.model.forward).parameters

    # -- what a subclass decides ---------------------------------------------------------
    def prompt(self, x: EmbedInput, role: str) -> str:
        """The input's text with one ``IMAGE_PAD`` where its image goes (if it has one)."""
        raise NotImplementedError

    def prepare_image(self, image):
        return image.convert("RGB")

    def params(self) -> dict[str, Any]:
        out = {"pooling": "last-token", "padding": "left"}
        if self.base:
            out["base"] = self.base
        return out

    # -- composition -----------------------------------------------------------------------
    def compose(self, x: EmbedInput, role: str) -> dict[str, Any]:
        """Token ids (image token expanded) and pixel patches of one input."""
        text = self.prompt(x, role)
        item: dict[str, Any] = {"pixel_values": None, "grid": None}
        if x.image is not None:
            if text.count(IMAGE_PAD) != 1:
                raise ValueError(f"{self.name}: prompt must hold {IMAGE_PAD} once for an image input: {text!r}")
            px = self.image_processor(images=[self.prepare_image(x.image)], return_tensors="pt")
            grid = px["image_grid_thw"]
            n = int(grid.prod()) // self.merge ** 2
            text = text.replace(IMAGE_PAD, IMAGE_PAD * n)
            item.update(pixel_values=px["pixel_values"], grid=grid)
        elif IMAGE_PAD in text:
            raise ValueError(f"{self.name}: {IMAGE_PAD} in the text of an input without an image: {text!r}")
        item["ids"] = self.tokenizer(text)["input_ids"]
        item["text"] = text
        return item

    def collate(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Left-padded batch tensors for ``model.model``."""
        import torch

        width = max(len(it["ids"]) for it in items)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(items), width), pad, dtype=torch.long)
        mask = torch.zeros((len(items), width), dtype=torch.long)
        for r, it in enumerate(items):
            ids[r, width - len(it["ids"]):] = torch.tensor(it["ids"], dtype=torch.long)
            mask[r, width - len(it["ids"]):] = 1
        batch: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        imgs = [it for it in items if it["grid"] is not None]
        if imgs:
            batch["pixel_values"] = torch.cat([it["pixel_values"] for it in imgs])
            batch["image_grid_thw"] = torch.cat([it["grid"] for it in imgs])
            if self._mm_types:
                batch["mm_token_type_ids"] = (ids == self.image_token_id).to(torch.int)
        return batch

    def _forward(self, items: list[dict[str, Any]]) -> np.ndarray:
        import torch

        batch = {k: v.to(self.device) for k, v in self.collate(items).items()}
        with torch.inference_mode(), autocast(self.device, self.dtype):
            out = self.model.model(**batch, use_cache=False, return_dict=True)
            vec = last_token(out.last_hidden_state, batch["attention_mask"])
        return vec.float().cpu().numpy()

    def prepare(self, inputs: list[EmbedInput], *, role: str) -> list[dict[str, Any]]:
        """Tokens and pixel patches, made in the harness's loader threads."""
        self.ensure_loaded()
        return [self.compose(x, role) for x in inputs]

    def encode(self, inputs: list[EmbedInput], *, role: str) -> np.ndarray:
        return self.encode_prepared(self.prepare(inputs, role=role), role=role)

    def encode_prepared(self, items: list[dict[str, Any]], *, role: str) -> np.ndarray:
        self.ensure_loaded()
        order = sorted(range(len(items)), key=lambda i: len(items[i]["ids"]))
        out: list[np.ndarray | None] = [None] * len(items)
        chunk: list[int] = []
        for i in order + [None]:
            longest = len(items[i]["ids"]) if i is not None else 0
            if chunk and (i is None or (len(chunk) + 1) * longest > self.max_batch_tokens):
                for j, v in zip(chunk, self._forward([items[j] for j in chunk])):
                    out[j] = v
                chunk = []
            if i is not None:
                chunk.append(i)
        return np.stack(out).astype(np.float32)


def unescape(sep: str) -> str:
    """``--model-arg sep=\\n`` arrives as backslash-n: turn escapes into characters."""
    return sep.encode("utf-8").decode("unicode_escape") if "\\" in sep else sep
