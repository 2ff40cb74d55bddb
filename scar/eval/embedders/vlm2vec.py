"""VLM2Vec on Qwen2-VL (TIGER-Lab/VLM2Vec-Qwen2VL-2B, -7B), over ``transformers``.

Format (checked against TIGER-AI-Lab/VLM2Vec ``src/model/processor.py`` and
``src/model/model.py`` and its README usage, read, not run):

- no chat template; an input with an image is ``<|image_pad|>`` + ``sep`` + its text
  (the MMEB ``<|image_1|>`` placeholder is replaced by Qwen2-VL's image token, which
  the processor expands to the image's patch tokens; no ``<|vision_start|>`` around it);
  a text-only input is its text;
- pooling ``last`` (the final hidden state of the last non-pad token), ``normalize=True``;
  the Qwen2-VL backbone is configured with left padding;
- images: Qwen2-VL smart resize within ``min_pixels=28*28*4`` and
  ``max_pixels=28*28*1280`` (the ``resize_min_pixels``/``resize_max_pixels`` defaults of
  its DataArguments);
- the checkpoints are LoRA adapters over ``Qwen/Qwen2-VL-{2B,7B}-Instruct`` (loaded with
  ``peft`` and merged, as the reference does for inference).

``sep`` defaults to one space, what ``<|image_1|> X`` becomes when its token is
replaced (the README's ``f'{token} Represent ...'``); VIRTUE's SCaR evaluation script
builds ``<|image_pad|>`` + three spaces for the same row (see ``virtue``), and MMEB rows
written ``<|image_1|>\\nX`` have a newline. Pass ``--model-arg sep=\\n`` to change it.

Not verified here: no weights can be had on this machine, so the scores of the real
checkpoints were not reproduced; only the input composition, pooling and loading path
run (on a tiny random Qwen2-VL and a tiny LoRA adapter) in the tests.
"""

from __future__ import annotations

from scar.eval.embedders.qwen2vl import IMAGE_PAD, Qwen2VLEmbedder, unescape

DEFAULT_MODEL = "TIGER-Lab/VLM2Vec-Qwen2VL-2B"


class VLM2VecEmbedder(Qwen2VLEmbedder):
    default_model = DEFAULT_MODEL
    family = "vlm2vec"

    def __init__(self, model: str | None = None, *, sep: str = " ", revision: str | None = None,
                 device: str | None = None, dtype: str | None = None, batch_size: int = 8,
                 min_pixels: int | None = None, max_pixels: int | None = None, base: str | None = None,
                 max_batch_tokens: int = 16384, name: str | None = None) -> None:
        self.sep = unescape(sep)
        super().__init__(model, revision=revision, device=device, dtype=dtype, batch_size=batch_size,
                         min_pixels=min_pixels, max_pixels=max_pixels, base=base,
                         max_batch_tokens=max_batch_tokens, name=name)

    def prompt(self, x, role):
        text = x.text or ""
        return f"{IMAGE_PAD}{self.sep}{text}" if x.image is not None else text

    def params(self):
        return {**super().params(), "format": "vlm2vec", "sep": self.sep}
