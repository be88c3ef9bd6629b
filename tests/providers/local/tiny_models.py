"""Tiny random-weight models, made by the tests with the libraries' own classes (nothing from a
hub): a multilingual Whisper converted with CTranslate2's converter, and a Stable Diffusion
pipeline written with ``save_pretrained``. Their output is noise; what they test is the real
loading and serving path of the providers."""

from __future__ import annotations

from pathlib import Path

#: Whisper's language order (ids 50259..50358 of the large-v3 tokenizer)
_LANGS = (
    "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th ur hr bg lt la "
    "mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr pa si km sn yo so af oc ka be "
    "tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt haw ln ha ba jw su yue"
)
WHISPER_LANGUAGES = _LANGS.split()
_BPE = 50257  # ordinary tokens of the multilingual vocabulary
_SPECIALS = ["<|endoftext|>", "<|startoftranscript|>", *[f"<|{c}|>" for c in WHISPER_LANGUAGES],
             "<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>",
             "<|notimestamps|>"]
_TIMESTAMPS = [f"<|{i * 0.02:.2f}|>" for i in range(1501)]


def _whisper_tokenizer() -> object:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {f"w{i}": i for i in range(_BPE)}
    vocab.update({tok: _BPE + i for i, tok in enumerate(_SPECIALS + _TIMESTAMPS)})
    tok = Tokenizer(models.WordLevel(vocab, unk_token="w0"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(_SPECIALS + _TIMESTAMPS)
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="w0", eos_token="<|endoftext|>",
                                   bos_token="<|endoftext|>", pad_token="<|endoftext|>")


def build_tiny_whisper(root: Path) -> Path:
    """A 2-layer multilingual Whisper with random weights, as a CTranslate2 folder that holds its
    own ``tokenizer.json`` (so faster-whisper never downloads one)."""
    import ctranslate2
    import torch
    from transformers import GenerationConfig, WhisperConfig, WhisperForConditionalGeneration

    torch.manual_seed(0)
    vocab_size = _BPE + len(_SPECIALS) + len(_TIMESTAMPS)
    assert vocab_size == 51866  # the layout of large-v3 (100 languages)
    config = WhisperConfig(vocab_size=vocab_size, num_mel_bins=80, d_model=32, encoder_layers=1, decoder_layers=1,
                           encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                           decoder_ffn_dim=64, max_source_positions=1500, max_target_positions=448,
                           decoder_start_token_id=50258, eos_token_id=50257, pad_token_id=50257,
                           bos_token_id=50257)
    model = WhisperForConditionalGeneration(config).eval()
    ids = {tok: _BPE + i for i, tok in enumerate(_SPECIALS)}
    model.generation_config = GenerationConfig(
        decoder_start_token_id=50258, eos_token_id=50257, pad_token_id=50257, suppress_tokens=[],
        begin_suppress_tokens=[220, 50257], no_timestamps_token_id=ids["<|notimestamps|>"],
        lang_to_id={f"<|{c}|>": ids[f"<|{c}|>"] for c in WHISPER_LANGUAGES}, is_multilingual=True,
        alignment_heads=[[0, 0], [0, 1]])
    hf_dir, ct2_dir = root / "hf-tiny-whisper", root / "tiny-whisper"
    model.save_pretrained(hf_dir)
    _whisper_tokenizer().save_pretrained(hf_dir)  # type: ignore[attr-defined]
    ctranslate2.converters.TransformersConverter(str(hf_dir), copy_files=["tokenizer.json"]).convert(
        str(ct2_dir), force=True)
    return ct2_dir


def build_tiny_stable_diffusion(root: Path) -> Path:
    """A Stable Diffusion pipeline with tiny random UNet, VAE and CLIP text encoder."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizerFast, PreTrainedTokenizerFast

    torch.manual_seed(0)
    unet = UNet2DConditionModel(block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16,
                                attention_head_dim=2, norm_num_groups=4)
    vae = AutoencoderKL(block_out_channels=(8, 16), in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
                        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), norm_num_groups=4)
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
    out = root / "tiny-sd"
    pipe.save_pretrained(out, safe_serialization=True)
    return out
