"""GME on Qwen2-VL (Alibaba-NLP/gme-Qwen2-VL-2B-Instruct, -7B-Instruct), over ``transformers``.

Format, as the reference computes it (``gme_inference.py``, byte-identical in
TIGER-AI-Lab/VLM2Vec @6e1e1d4 ``src/model/baseline_backbone/gme/`` and sony/virtue @36d8a8b
``codes/src/model/vlm_backbone/gme/``, run through ``MMEBModel.encode_input``; checked string for
string and vector for vector on tiny random weights by ``tools/parity.py``, see
``tests/test_parity.py``):

- every input is one chat turn::

    <|im_start|>system\\n{instruction}<|im_end|>\\n<|im_start|>user\\n
    [<|vision_start|><|image_pad|><|vision_end|>]{text}<|im_end|>\\n<|im_start|>assistant\\n<|endoftext|>

  with ``instruction`` "You are a helpful assistant." unless a query instruction is set
  (``query_instruction=``; candidates always get the default, as in the reference);
- a SCaR query's text (an input with an image and a box) starts with two spaces: the SCaR
  parser's ``process_input_text("", "gme", text=" " + instruction)``;
- token ids are cut at 1,800 (``max_length=1800``, the processor's truncation);
- the vector is the last token's final hidden state (``<|endoftext|>``), L2-normalised;
- images: resized to 1344x1344 first (``pre_resize``; the evaluation's ``image_resolution:
  high`` applies to every backbone), then ``fetch_image`` rounds each side to a multiple of 28
  (smart resize within 4*28*28 .. 16384*28*28), then the processor resizes within
  ``min_pixels=28*28*4`` and ``max_pixels=28*28*1280``: the evaluation's processor comes from
  ``load_processor`` with DataArguments' bounds; the 256/1280-token bounds that
  ``GmeQwen2VL.__init__`` computes are never applied;
- positions: plain 1-D (``rope="1d"``): the reference calls the inner text model without
  positions.

Not verified: the real checkpoints' scores (no weights on this machine).
"""

from __future__ import annotations

from scar.eval.embedders.qwen2vl import IMAGE_PAD, Qwen2VLEmbedder

DEFAULT_MODEL = "Alibaba-NLP/gme-Qwen2-VL-2B-Instruct"
DEFAULT_INSTRUCTION = "You are a helpful assistant."
FETCH_MIN, FETCH_MAX = 4 * 28 * 28, 16384 * 28 * 28
MAX_LENGTH = 1800


def _smart_resize():
    try:
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize
    except ImportError:  # transformers < 5.24: the PIL processor lives here
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize
    return smart_resize


class GmeEmbedder(Qwen2VLEmbedder):
    default_model = DEFAULT_MODEL
    family = "gme"
    min_pixels_default = 28 * 28 * 4
    max_pixels_default = 28 * 28 * 1280

    def __init__(self, model: str | None = None, *, query_instruction: str | None = None,
                 revision: str | None = None, device: str | None = None, dtype: str | None = None,
                 batch_size: int = 8, min_pixels: int | None = None, max_pixels: int | None = None,
                 max_batch_tokens: int = 16384, name: str | None = None, rope: str = "1d",
                 pre_resize: str | None = "default", max_length: int | None = MAX_LENGTH) -> None:
        self.query_instruction = query_instruction
        super().__init__(model, revision=revision, device=device, dtype=dtype, batch_size=batch_size,
                         min_pixels=min_pixels, max_pixels=max_pixels, max_batch_tokens=max_batch_tokens, name=name,
                         rope=rope, pre_resize=pre_resize, max_length=max_length)

    def prompt(self, x, role):
        instruction = (self.query_instruction if role == "query" else None) or DEFAULT_INSTRUCTION
        image = f"<|vision_start|>{IMAGE_PAD}<|vision_end|>" if x.image is not None else ""
        text = ("  " if x.image is not None and x.bbox is not None else "") + (x.text or "")
        return (f"<|im_start|>system\n{instruction}<|im_end|>\n<|im_start|>user\n{image}{text}<|im_end|>\n"
                f"<|im_start|>assistant\n<|endoftext|>")

    def prepare_image(self, image):
        image = super().prepare_image(image)
        h, w = _smart_resize()(image.height, image.width, factor=28, min_pixels=FETCH_MIN, max_pixels=FETCH_MAX)
        return image.resize((w, h)) if (w, h) != image.size else image

    def params(self):
        return {**super().params(), "format": "gme", "query_instruction": self.query_instruction}
