"""A tiny randomly initialised Qwen2-VL checkpoint with a tiny trained tokenizer, written
to a folder and loaded back by path through the same ``from_pretrained`` code a Hub id
takes: every Qwen2-VL wrapper (``vlm2vec``, ``gme``, ``virtue``) runs offline in seconds.
Its vectors mean nothing.

The tokenizer has Qwen2-VL's special tokens (``<|image_pad|>``, ``<|vision_start|>``,
``<|im_start|>``...) and, like Qwen2's, adds no BOS/EOS. It is saved with *right*
padding so that tests can check the wrappers set left padding themselves.
``lora=True`` also writes a PEFT LoRA adapter folder over the checkpoint (the layout of
``TIGER-Lab/VLM2Vec-Qwen2VL-*``: an adapter plus tokenizer and image processor, base
named in ``adapter_config.json``).
"""

from __future__ import annotations

from pathlib import Path

from scar.testing.tiny import CORPUS

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
            "<|image_pad|>", "<|video_pad|>", "[UNK]"]
PUNCT = list("[](),.:;!?-'\"/")
PATCH, MERGE = 14, 2


def _tokenizer(max_length: int = 4096):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    words = CORPUS + ["you", "are", "helpful", "assistant", "system", "user", "find", "caption", "describes",
                      "object", "bounding", "considering", "both", "local", "details", "global", "context",
                      "represent", "given", "classification", "photo", "everyday", "matches", "dialogue",
                      "segmented", "question", "what", "is", "it", "yes", "Find", "Referring", "Represent", "You", "The",
                      "A"]
    tok.train_from_iterator([" ".join(words + PUNCT)] + [str(i) for i in range(1100)],
                            trainers.WordLevelTrainer(special_tokens=SPECIALS))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                   unk_token="[UNK]", model_max_length=max_length, padding_side="right")
    return fast


def tiny_qwen2vl(folder: str | Path, *, seed: int = 0, hidden: int = 32, layers: int = 2,
                 max_pixels: int = 28 * 28 * 16, lora: bool = False) -> Path:
    """Write a tiny Qwen2-VL (hidden ``hidden``, ``layers`` text and vision layers) to
    ``folder``; with ``lora`` also ``folder``-lora, a LoRA adapter over it (returned)."""
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    from scar.eval.embedders.qwen2vl import image_processor_class

    folder = Path(folder)
    torch.manual_seed(seed)
    tok = _tokenizer()
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIALS}
    heads = max(2, hidden // 64)  # head dim 64 for a wider random model (the perf benchmark)
    half = hidden // heads // 2  # mrope sections cover half the head dim
    section = [half - 2 * (half // 3), half // 3, half // 3]
    cfg = Qwen2VLConfig(
        text_config=dict(vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=1,
                         max_position_embeddings=4096, rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                                                       "mrope_section": section},
                         bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                         pad_token_id=ids["<|endoftext|>"]),
        vision_config=dict(depth=layers, embed_dim=hidden, hidden_size=hidden, num_heads=heads, mlp_ratio=2,
                           patch_size=PATCH, spatial_merge_size=MERGE, temporal_patch_size=2),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    model = Qwen2VLForConditionalGeneration(cfg).eval()
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    image_processor_class()(min_pixels=28 * 28 * 4, max_pixels=max_pixels, patch_size=PATCH, merge_size=MERGE,
                            temporal_patch_size=2).save_pretrained(folder)
    if not lora:
        return folder
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed + 1)
    adapter = folder.with_name(folder.name + "-lora")
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                  init_lora_weights="gaussian"))
    with torch.no_grad():  # PEFT starts B at zero (a no-op adapter): make it change the outputs
        for pname, param in peft_model.named_parameters():
            if "lora_B" in pname:
                param.normal_(0.0, 0.5)
    peft_model.save_pretrained(adapter)
    cfg_path = adapter / "adapter_config.json"
    import json

    data = json.loads(cfg_path.read_text())
    data["base_model_name_or_path"] = str(folder)
    cfg_path.write_text(json.dumps(data, indent=2))
    tok.save_pretrained(adapter)
    image_processor_class()(min_pixels=28 * 28 * 4, max_pixels=max_pixels).save_pretrained(adapter)
    return adapter
