"""Tiny models for the catalogue tests, placed where the real code paths read them: a Whisper on
the loopback S3 server, another in a local Hugging Face Hub cache folder (the layout
huggingface_hub writes: ``models--org--repo/{blobs,refs,snapshots/<commit>}``), and a LoRA
adapter for the tiny Stable Diffusion pipeline, made with peft's random initialisation so it
changes the image."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any


def variant(folder: Path, out: Path, note: str) -> Path:
    """A copy of a CTranslate2 folder whose ``config.json`` differs (another digest, same model)."""
    shutil.copytree(folder, out)
    config = json.loads((out / "config.json").read_text())
    config["videoai_note"] = note
    (out / "config.json").write_text(json.dumps(config))
    return out


def upload(fs: Any, folder: Path, url_path: str) -> None:
    """Every file of ``folder`` under ``url_path`` (``bucket/prefix``) of the S3 filesystem."""
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            fs.put_file(str(p), f"{url_path}/{p.relative_to(folder).as_posix()}")


def fill_hub_cache(cache: Path, repo_id: str, folder: Path, commit: str | None = None) -> str:
    """Put ``folder`` into the Hub cache ``cache`` as ``repo_id`` at ``commit`` (``main`` points
    at it); returns the commit."""
    commit = commit or hashlib.sha1(repo_id.encode()).hexdigest()
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    snap = repo / "snapshots" / commit
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        data = p.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snap / p.relative_to(folder)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(Path("../" * (len(p.relative_to(folder).parts) + 1)) / "blobs" / blob.name)
    return commit


def build_tiny_lora(pipeline_dir: Path, out: Path) -> Path:
    """A rank-4 LoRA adapter on the tiny pipeline's UNet attention, with random weights."""
    import torch
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(1)
    pipe = StableDiffusionPipeline.from_pretrained(str(pipeline_dir), local_files_only=True)
    pipe.unet.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                     target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    with torch.no_grad():  # large enough that the image changes visibly
        for name, param in pipe.unet.named_parameters():
            if "lora_" in name:
                param.mul_(4.0)
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(pipe.unet))
    StableDiffusionPipeline.save_lora_weights(str(out), unet_lora_layers=layers, safe_serialization=True)
    return out
