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

Parity with the reference code (TIGER-AI-Lab/VLM2Vec @6e1e1d4, sony/virtue @36d8a8b; measured
by ``tools/parity.py`` on tiny random weights, see ``tests/test_parity.py``):

- ``rope="1d"`` (default): every token, image tokens included, gets a plain 1-D position
  (``cumsum(attention_mask) - 1``). The references' vendored ``modeling_qwen2_vl.py``
  (``get_rope_index``) gives image tokens 3-D positions only after ``<|vision_start|>``, which the
  VLM2Vec/VIRTUE prompts do not have, and only on a model's first call (``self.rope_deltas``
  is kept afterwards, so later batches get ``arange`` positions); GME's ``gme_inference.py``
  calls the inner text model without positions (``arange`` again). RoPE depends on position
  differences only, so 1-D positions from 0 give the same vectors. ``rope="mrope"`` is
  transformers' own 3-D layout (``mm_token_type_ids``), which the trained weights never saw.
- ``pre_resize``: the references' eval collator resizes every image to 1344x1344 first
  (``image_resolution: high``, ``RESOLUTION_MAPPING`` in ``base_eval_dataset.py``) before the
  processor's smart resize; ``none`` keeps the image as it is.
- ``max_length``: token ids cut to this many (the tokenizer's right truncation), where the
  reference truncates (GME: 1800).

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

from scar.errors import MissingExtra, ScarUserError
from scar.eval.embedders.base import Embedder, EmbedInput
from scar.eval.embedders.hf import autocast, check_dtype, pick_device, resolve

log = logging.getLogger(__name__)
IMAGE_PAD = "<|image_pad|>"
ROPES = ("1d", "mrope")
REFERENCES = "TIGER-AI-Lab/VLM2Vec@6e1e1d4, sony/virtue@36d8a8b"


def parse_size(spec) -> tuple[int, int] | None:
    """``WIDTHxHEIGHT`` -> (w, h); ``none`` -> None."""
    if spec in (None, "", "none", "None"):
        return None
    if isinstance(spec, (tuple, list)):
        return int(spec[0]), int(spec[1])
    try:
        w, h = (int(v) for v in str(spec).lower().split("x"))
    except ValueError:
        raise ScarUserError(f"pre_resize {spec!r}: use WIDTHxHEIGHT (e.g. 1344x1344) or none") from None
    return w, h


def image_processor_class():
    """The PIL/numpy Qwen2-VL image processor of this transformers version (5.24 calls
    it ``Qwen2VLImageProcessorPil``; earlier 5.x ``Qwen2VLImageProcessor``)."""
    import transformers

    cls = getattr(transformers, "Qwen2VLImageProcessorPil", None)
    if cls is None:
        from transformers import Qwen2VLImageProcessor as cls
    return cls


def _v5_key(key: str) -> str:
    """An adapter tensor name of the released layout (``...model.layers.N...``, ``...visual...``,
    what transformers 4.x and TIGER-Lab's VLM2Vec adapters use) in transformers 5's layout
    (``...model.language_model.layers.N...``, ``...model.visual...``)."""
    head = "base_model.model."
    if not key.startswith(head):
        return key
    rest = key[len(head):]
    if rest.startswith("visual."):
        return head + "model." + rest
    if rest.startswith("model.") and not rest.startswith(("model.language_model.", "model.visual.")):
        return head + "model.language_model." + rest[len("model."):]
    return key


def _load_adapter(peft_model_cls, net, path: str, revision: str | None):
    """The LoRA adapter over ``net``, its tensors renamed from the released layout when needed
    (peft loads nothing, with a warning only, for names the model does not have: a VLM2Vec
    adapter saved under transformers 4.x would silently be a no-op)."""
    import warnings

    from peft.utils import load_peft_weights, set_peft_model_state_dict

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the missing keys, handled below
        model = peft_model_cls.from_pretrained(net, path, **({"revision": revision} if revision else {}))
    weights = load_peft_weights(path, **({"revision": revision} if revision else {}))
    renamed = {_v5_key(k): v for k, v in weights.items()}
    got = set_peft_model_state_dict(model, renamed)
    unexpected = [k for k in getattr(got, "unexpected_keys", []) if "lora_" in k]
    missing = [k for k in getattr(got, "missing_keys", []) if "lora_" in k]
    if unexpected or missing:
        raise ScarUserError(f"{path}: LoRA tensors that fit no layer of the base model "
                         f"({(unexpected or missing)[:3]}...)")
    return model


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
    pre_resize_default: ClassVar[str | None] = "1344x1344"

    def __init__(self, model: str | None = None, *, revision: str | None = None, device: str | None = None,
                 dtype: str | None = None, batch_size: int = 8, min_pixels: int | None = None,
                 max_pixels: int | None = None, base: str | None = None, max_batch_tokens: int = 16384,
                 name: str | None = None, rope: str = "1d", pre_resize: str | None = "default",
                 max_length: int | None = None) -> None:
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
            raise ScarUserError(f"{self.name}: min_pixels {self.min_pixels} > max_pixels {self.max_pixels}")
        self.configure(rope=rope, pre_resize=pre_resize, max_length=max_length)
        adapter = adapter_config(path, rev.get("revision"))
        self.base, self._base = None, None
        if adapter is not None:
            import importlib.util

            if importlib.util.find_spec("peft") is None:
                raise MissingExtra(f"{model} is a LoRA adapter: `pip install peft` to load it")
            base_id = base or adapter.get("base_model_name_or_path")
            if not base_id:
                raise ScarUserError(f"{model}: adapter_config.json names no base model; pass --model-arg base=MODEL")
            if Path(path).is_dir() and not Path(base_id).is_absolute() and (Path(path) / base_id).is_dir():
                base_id = str((Path(path) / base_id).resolve())  # a base named relative to the adapter folder
            base_path, base_rev = resolve(base_id, None)
            self._base = (base_path, {} if base_rev.startswith("local-") else {"revision": base_rev})
            self.base = f"{base_id}@{base_rev}"
        self._path, self._rev, self._model_id = path, rev, model

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
            net = _load_adapter(PeftModel, net, path, rev.get("revision")).merge_and_unload()
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
            raise ScarUserError(f"{model}: tokenizer maps {IMAGE_PAD} to {self.tokenizer.convert_tokens_to_ids(IMAGE_PAD)} "
                             f"but the model's image_token_id is {self.image_token_id}")
        self._mm_types = "mm_token_type_ids" in inspect.signature(self.model.model.forward).parameters

    def configure(self, *, rope: str = "1d", pre_resize: str | None = "default", max_length: int | None = None) -> None:
        """The parity settings (module docstring); recorded in ``params`` and ``resolution``."""
        if rope not in ROPES:
            raise ScarUserError(f"{self.name}: rope {rope!r}: use one of {ROPES}")
        self.rope = rope
        self.pre_resize = parse_size(self.pre_resize_default if pre_resize == "default" else pre_resize)
        self.max_length = int(max_length) if max_length not in (None, "", "none", "None") else None
        self.resolution = (f"pre_resize={self.pre_resize[0]}x{self.pre_resize[1]}," if self.pre_resize else "") + \
            f"min_pixels={self.min_pixels},max_pixels={self.max_pixels}"

    # -- what a subclass decides ---------------------------------------------------------
    def prompt(self, x: EmbedInput, role: str) -> str:
        """The input's text with one ``IMAGE_PAD`` where its image goes (if it has one)."""
        raise NotImplementedError

    def prepare_image(self, image):
        image = image.convert("RGB")
        return image.resize(self.pre_resize) if self.pre_resize and image.size != self.pre_resize else image

    def params(self) -> dict[str, Any]:
        out = {"pooling": "last-token", "padding": "left", "rope": self.rope, "max_length": self.max_length}
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
        if self.max_length is not None:
            item["ids"] = item["ids"][:self.max_length]
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
            if self._mm_types and self.rope == "mrope":
                batch["mm_token_type_ids"] = (ids == self.image_token_id).to(torch.int)
        if self.rope == "1d":
            batch["position_ids"] = (mask.cumsum(1) - 1).clamp(min=0)
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
