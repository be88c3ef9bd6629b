"""Output shapes the cloud adapters share with the local providers: transcripts (OpenAI and
AssemblyAI return the keys ``local-whisper`` returns) and subtitles (the keys ``local-subtitles``
returns, segmented, timed and rendered by the same ``local._subformat`` rules)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pysubs2

from ..local._subformat import CONTENT_TYPES, GAP, TimedCue, break_lines, reading_time, render

Store = Callable[[str, bytes, str], Awaitable[dict[str, Any]]]

_TRANSCRIPT_TYPES = {"json": "application/json", "text": "text/plain", **CONTENT_TYPES}


# -- transcripts ----------------------------------------------------------------------------------


def segments_from_subtitles(content: str) -> list[dict[str, Any]]:
    """Segments (seconds) read back from an SRT or WebVTT transcript."""
    subs = pysubs2.SSAFile.from_string(content)
    return [
        {"id": i, "start": ev.start / 1000.0, "end": ev.end / 1000.0, "text": ev.plaintext.replace("\n", " ")}
        for i, ev in enumerate(subs)
        if ev.plaintext.strip()
    ]


def segments_from_words(words: Sequence[dict[str, Any]], max_seconds: float = 10.0) -> list[dict[str, Any]]:
    """Sentence-like segments from timed words (seconds): cut at end punctuation, at a pause
    longer than 1.5 s, or when a segment grows past ``max_seconds``."""
    segments: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    for word in words:
        if current and (word["start"] - current[-1]["end"] > 1.5 or word["end"] - current[0]["start"] > max_seconds):
            segments.append(_segment(len(segments), current))
            current = []
        current.append(word)
        if word["word"].rstrip().endswith((".", "?", "!")):
            segments.append(_segment(len(segments), current))
            current = []
    if current:
        segments.append(_segment(len(segments), current))
    return segments


def _segment(index: int, words: list[dict[str, Any]]) -> dict[str, Any]:
    text = " ".join(w["word"] for w in words)
    return {"id": index, "start": words[0]["start"], "end": words[-1]["end"], "text": text}


async def transcription_output(
    store: Store,
    *,
    fmt: str,
    text: str,
    language: str | None,
    duration: float | None,
    segments: list[dict[str, Any]],
    words: list[dict[str, Any]],
    metadata: dict[str, Any],
    content: str | None = None,
) -> dict[str, Any]:
    """Store the transcript in the requested format and describe it like ``local-whisper``:
    ``text, language, duration, segments, words`` (+ ``content`` for srt/vtt), ``format``,
    ``transcript_url``, ``metadata``."""
    body: dict[str, Any] = {
        "text": text,
        "language": language,
        "duration": duration,
        "segments": segments,
        "words": words,
    }
    if fmt == "json":
        data = json.dumps(body, ensure_ascii=False, indent=1)
    elif fmt == "text":
        data = (content if content is not None else text).strip() + "\n"
    else:
        data = content or ""
        body["content"] = data
    name = f"transcript.{'txt' if fmt == 'text' else fmt}"
    artifact = await store(name, data.encode("utf-8"), _TRANSCRIPT_TYPES[fmt])
    metadata = {**metadata, "size_bytes": artifact.get("size_bytes")}
    return {**body, "format": fmt, "transcript_url": artifact["url"], "metadata": metadata}


# -- subtitles ------------------------------------------------------------------------------------


def display_lines(text: str) -> tuple[str, ...]:
    """A cue's lines: two balanced lines when they fit, else wrapped (a translation may be longer)."""
    return tuple(break_lines(text) or break_lines(text, max_lines=None) or [text])


def timed_cues(texts: Sequence[str], start: float = 0.0) -> list[TimedCue]:
    """Back-to-back cues timed by reading speed (the local provider's rule, applied to the text
    actually shown, i.e. after translation)."""
    cues: list[TimedCue] = []
    t = start
    for text in texts:
        end = t + reading_time(text)
        cues.append(TimedCue(round(t, 3), round(end, 3), display_lines(text)))
        t = end + GAP
    return cues


async def subtitle_output(store: Store, cues: list[TimedCue], fmt: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """Store the rendered subtitles and describe them like ``local-subtitles``: ``subtitle_url,
    format, content, cues`` (the count), ``duration``, ``metadata``."""
    content = render(cues, fmt)
    artifact = await store(f"subtitles.{fmt}", content.encode("utf-8"), CONTENT_TYPES[fmt])
    return {
        "subtitle_url": artifact["url"],
        "format": fmt,
        "content": content,
        "cues": len(cues),
        "duration": max((c.end for c in cues), default=0.0),
        "metadata": {**metadata, "size_bytes": artifact.get("size_bytes")},
    }
