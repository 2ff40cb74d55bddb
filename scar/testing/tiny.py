"""Tiny randomly initialised CLIP / SigLIP / SAM checkpoints, written to a folder and
loaded back by path through the same ``from_pretrained`` code a Hub id takes. For
tests and the performance benchmark: every wrapper's code path runs offline in seconds.
Their scores mean nothing."""

from __future__ import annotations

from pathlib import Path

CORPUS = ("find the caption that best describes the object in the bounding box considering both local "
          "details and global context in the given image referring object bbox represent the given image "
          "a the of on in under next to left right above below behind near with dog cat cup table chair "
          "person car tree kitchen street park room field beach sky grass bench lamp box man woman ").split()


def _tokenizer(max_length: int):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    specials = ["[PAD]", "[UNK]", "[BOS]", "[EOS]"]
    tok.train_from_iterator([" ".join(CORPUS)] + [str(i) for i in range(1000)],
                            trainers.WordLevelTrainer(special_tokens=specials))
    tok.post_processor = processors.TemplateProcessing(single="[BOS] $A [EOS]", special_tokens=[("[BOS]", 2), ("[EOS]", 3)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="[BOS]", eos_token="[EOS]", pad_token="[PAD]",
                                   unk_token="[UNK]", model_max_length=max_length)
    return fast, tok.get_vocab_size()


def _towers(vocab: int, max_length: int, image_size: int, hidden: int = 32) -> tuple[dict, dict]:
    text = dict(vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=max_length, pad_token_id=0, bos_token_id=2,
                eos_token_id=3)
    vision = dict(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2, num_attention_heads=2,
                  image_size=image_size, patch_size=8)
    return text, vision


def tiny_clip(folder: str | Path, *, image_size: int = 32, max_length: int = 64, seed: int = 0) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    folder = Path(folder)
    torch.manual_seed(seed)
    tok, vocab = _tokenizer(max_length)
    text, vision = _towers(vocab, max_length, image_size)
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).save_pretrained(folder)
    tok.save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": image_size},
                       crop_size={"height": image_size, "width": image_size}).save_pretrained(folder)
    return folder


def tiny_siglip(folder: str | Path, *, image_size: int = 32, max_length: int = 64, seed: int = 0) -> Path:
    import torch
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    folder = Path(folder)
    torch.manual_seed(seed)
    tok, vocab = _tokenizer(max_length)
    text, vision = _towers(vocab, max_length, image_size)
    SiglipModel(SiglipConfig(text_config=text, vision_config=vision)).save_pretrained(folder)
    tok.save_pretrained(folder)
    SiglipImageProcessor(size={"height": image_size, "width": image_size}).save_pretrained(folder)
    return folder


def tiny_sam(folder: str | Path, *, image_size: int = 64, seed: int = 0) -> Path:
    import torch
    from transformers import SamConfig, SamImageProcessor, SamModel, SamProcessor

    folder = Path(folder)
    torch.manual_seed(seed)
    cfg = SamConfig(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=image_size, patch_size=16, output_channels=16, window_size=2,
                           global_attn_indexes=[1], num_pos_feats=8, mlp_dim=32),
        prompt_encoder_config=dict(hidden_size=16, image_size=image_size, patch_size=16, mask_input_channels=4),
        mask_decoder_config=dict(hidden_size=16, mlp_dim=32, num_hidden_layers=2, num_attention_heads=2,
                                 iou_head_hidden_dim=16))
    SamModel(cfg).save_pretrained(folder)
    ip = SamImageProcessor(size={"longest_edge": image_size}, pad_size={"height": image_size, "width": image_size})
    SamProcessor(image_processor=ip).save_pretrained(folder)
    return folder


def tiny_sam_meta(path: str | Path, *, seed: int = 0) -> Path:
    """A tiny randomly initialised SAM saved as a checkpoint file in the format Meta distributes
    (``torch.save`` of the ``segment_anything`` model's state dict): encoder width 32, two blocks,
    the second with global attention; the prompt encoder and mask decoder at their fixed size."""
    import importlib

    import torch

    build = importlib.import_module("segment_anything.build_sam")
    torch.manual_seed(seed)
    sam = build._build_sam(encoder_embed_dim=32, encoder_depth=2, encoder_num_heads=2, encoder_global_attn_indexes=[1])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(sam.state_dict(), path)
    return path
