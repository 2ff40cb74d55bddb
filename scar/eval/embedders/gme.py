"""GME on Qwen2-VL (Alibaba-NLP/gme-Qwen2-VL-2B-Instruct, -7B-Instruct), over ``transformers``.

Format (checked against the model's ``gme_inference.py`` as copied in
TIGER-AI-Lab/VLM2Vec ``src/model/baseline_backbone/gme/`` and mteb's
``gme_v_models.py``, read, not run):

- every input is one chat turn::

    <|im_start|>system\\n{instruction}<|im_end|>\\n<|im_start|>user\\n
    [<|vision_start|><|image_pad|><|vision_end|>]{text}<|im_end|>\\n<|im_start|>assistant\\n<|endoftext|>

  with ``instruction`` "You are a helpful assistant." unless a query instruction is set
  (``query_instruction=``; candidates always get the default, as in the reference);
- the vector is the last token's final hidden state (``<|endoftext|>``), L2-normalised;
- images: ``fetch_image`` first rounds each side to a multiple of 28 (smart resize
  within 4*28*28 .. 16384*28*28), then the processor resizes within
  ``min_pixels=256*28*28`` and ``max_pixels=1280*28*28`` (``min/max_image_tokens`` 256 and 1280).

Differences, kept on purpose: the model's own ``gme_inference.py`` pads on the right (the
copy in VLM2Vec on the left) and pools the last attended token; we pad on the left and
pool the last position, the same token. On
SCaR and MMEB the whole task text (instruction included) goes in the user turn with the
default system prompt, which is how VLM2Vec's and VIRTUE's evaluation code run GME.

Not verified here: no weights can be had on this machine; only the composition,
pooling and loading path run (on a tiny random Qwen2-VL) in the tests.
"""

from __future__ import annotations

from scar.eval.embedders.qwen2vl import IMAGE_PAD, Qwen2VLEmbedder

DEFAULT_MODEL = "Alibaba-NLP/gme-Qwen2-VL-2B-Instruct"
DEFAULT_INSTRUCTION = "You are a helpful assistant."
FETCH_MIN, FETCH_MAX = 4 * 28 * 28, 16384 * 28 * 28


def _smart_resize():
    try:
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize
    except ImportError:  # transformers < 5.24: the PIL processor lives here
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize
    return smart_resize


class GmeEmbedder(Qwen2VLEmbedder):
    default_model = DEFAULT_MODEL
    family = "gme"
    min_pixels_default = 256 * 28 * 28
    max_pixels_default = 1280 * 28 * 28

    def __init__(self, model: str | None = None, *, query_instruction: str | None = None,
                 revision: str | None = None, device: str | None = None, dtype: str | None = None,
                 batch_size: int = 8, min_pixels: int | None = None, max_pixels: int | None = None,
                 max_batch_tokens: int = 16384, name: str | None = None) -> None:
        self.query_instruction = query_instruction
        super().__init__(model, revision=revision, device=device, dtype=dtype, batch_size=batch_size,
                         min_pixels=min_pixels, max_pixels=max_pixels, max_batch_tokens=max_batch_tokens, name=name)

    def prompt(self, x, role):
        instruction = (self.query_instruction if role == "query" else None) or DEFAULT_INSTRUCTION
        image = f"<|vision_start|>{IMAGE_PAD}<|vision_end|>" if x.image is not None else ""
        return (f"<|im_start|>system\n{instruction}<|im_end|>\n<|im_start|>user\n{image}{x.text or ''}<|im_end|>\n"
                f"<|im_start|>assistant\n<|endoftext|>")

    def prepare_image(self, image):
        image = image.convert("RGB")
        h, w = _smart_resize()(image.height, image.width, factor=28, min_pixels=FETCH_MIN, max_pixels=FETCH_MAX)
        return image.resize((w, h)) if (w, h) != image.size else image

    def params(self):
        return {**super().params(), "format": "gme", "query_instruction": self.query_instruction}
