"""VLM2Vec on Qwen2-VL (TIGER-Lab/VLM2Vec-Qwen2VL-2B, -7B), over ``transformers``.

Input format, as the reference builds it (TIGER-AI-Lab/VLM2Vec @6e1e1d4: ``process_input_text``
in ``src/model/processor.py`` and the V2 parsers ``src/data/eval_dataset/image_*_eval.py``,
which append ``"\\n"`` after replacing ``" \\n"`` "to stay consistent with v1 eval"), checked
string for string and vector for vector against that code on tiny random weights by
``tools/parity.py`` (``tests/test_parity.py``). No chat template; ``text`` is what the harness
gives (the task's instruction and text, ``<|image_1|>`` removed):

- ``format="v2"`` (default):
  - an input with an image and a box (a SCaR query) follows VIRTUE's SCaR parser
    (sony/virtue @36d8a8b ``codes/src/data/eval_dataset/scar_image_i2t.py``, which VIRTUE's
    evaluation also runs for VLM2Vec): ``<|image_pad|>`` + three spaces + text;
  - any other input with an image: ``<|image_pad|>\\n{text}\\n`` (the V2 ``"<|image_pad|>\\n{instruction}
    {text}\\n"``);
  - a text-only query: ``{text}\\n`` (``image_t2i_eval.py``); a text-only candidate: its text.
- ``format="plain"``: ``<|image_pad|>`` + ``sep`` + text, text-only inputs as they are (this
  wrapper's format before the parity work).

Pooling: the last token's final hidden state, normalised (``pooling: last``). Images: resized to
1344x1344 first (``pre_resize``, the eval's ``image_resolution: high``), then Qwen2-VL's smart
resize within ``min_pixels=28*28*4`` and ``max_pixels=28*28*1280`` (DataArguments' defaults):
980x980, 1225 image tokens. Positions: plain 1-D (``rope="1d"``; see ``qwen2vl``). The
checkpoints are LoRA adapters over ``Qwen/Qwen2-VL-{2B,7B}-Instruct`` (loaded with ``peft``
and merged, as ``MMEBModel.load`` does for inference).

Not verified: the real checkpoints' scores (no weights on this machine); the MMEB V2 format
was checked on the reference's parsers with synthetic ``qry_inst``/``qry_text`` rows, while the
MMEB task here reads MMEB-eval's V1 columns (instruction and text in one ``qry_text``).
"""

from __future__ import annotations

from scar.errors import ScarUserError
from scar.eval.embedders.qwen2vl import IMAGE_PAD, Qwen2VLEmbedder, unescape

DEFAULT_MODEL = "TIGER-Lab/VLM2Vec-Qwen2VL-2B"
FORMATS = ("v2", "plain")
SCAR_SEP = "   "  # process_input_text("", ..., text=" " + instruction, add_image_token=True)


def v2_prompt(x, role: str, scar_sep: str = SCAR_SEP) -> str:
    text = x.text or ""
    if x.image is not None:
        return f"{IMAGE_PAD}{scar_sep}{text}" if x.bbox is not None else f"{IMAGE_PAD}\n{text}\n"
    return f"{text}\n" if role == "query" else text


class VLM2VecEmbedder(Qwen2VLEmbedder):
    default_model = DEFAULT_MODEL
    family = "vlm2vec"

    def __init__(self, model: str | None = None, *, format: str = "v2", sep: str = " ",
                 revision: str | None = None, device: str | None = None, dtype: str | None = None,
                 batch_size: int = 8, min_pixels: int | None = None, max_pixels: int | None = None,
                 base: str | None = None, max_batch_tokens: int = 16384, name: str | None = None,
                 rope: str = "1d", pre_resize: str | None = "default") -> None:
        if format not in FORMATS:
            raise ScarUserError(f"vlm2vec format {format!r}: use one of {FORMATS}")
        self.format, self.sep = format, unescape(sep)
        super().__init__(model, revision=revision, device=device, dtype=dtype, batch_size=batch_size,
                         min_pixels=min_pixels, max_pixels=max_pixels, base=base,
                         max_batch_tokens=max_batch_tokens, name=name, rope=rope, pre_resize=pre_resize)

    def prompt(self, x, role):
        if self.format == "v2":
            return v2_prompt(x, role)
        text = x.text or ""
        return f"{IMAGE_PAD}{self.sep}{text}" if x.image is not None else text

    def params(self):
        out = {**super().params(), "format": f"vlm2vec-{self.format}"}
        if self.format == "plain":
            out["sep"] = self.sep
        return out
