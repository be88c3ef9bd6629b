"""``local-subtitles``: SRT, WebVTT and ASS files written with ``pysubs2``, offline.

``timing_mode="auto"`` segments the text into readable cues and times them by reading speed (see
``_subformat``); ``"manual"`` uses the request's cue times, with each cue's own text or the
non-empty lines of ``text`` in order. The text is written as given: this provider does NOT
translate, so it declines requests whose ``source_language`` differs from ``target_language``
(the registry then reports that no translation-capable provider is available).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from ...errors import InvalidInput
from ...models import SubtitleGenerationRequest, TaskRequest, TaskType
from ..base import Provider, ProviderContext
from ._subformat import (
    CONTENT_TYPES,
    CPS,
    MAX_DURATION,
    MAX_LINE,
    MAX_LINES,
    MIN_DURATION,
    TimedCue,
    auto_cues,
    break_lines,
    normalise,
    render,
)


def manual_cues(request: SubtitleGenerationRequest) -> list[TimedCue]:
    """Cues at the given times; text from each cue or from the lines of ``request.text``."""
    assert request.cues is not None
    lines = iter([ln for ln in request.text.splitlines() if ln.strip()])
    cues: list[TimedCue] = []
    for cue in request.cues:
        text = normalise(cue.text if cue.text is not None else next(lines))
        if not text:
            continue  # an explicitly empty cue shows nothing
        display = break_lines(text, max_lines=None) or [text]
        cues.append(TimedCue(cue.start, cue.end, tuple(display)))
    if not cues:
        raise InvalidInput("every manual cue is empty", field="cues")
    return cues


class LocalSubtitleProvider(Provider):
    """Subtitle files from text with reading-speed timing (pysubs2); no translation."""

    name: ClassVar[str] = "local-subtitles"
    task_types: ClassVar[frozenset[TaskType]] = frozenset({TaskType.SUBTITLE_GENERATION})
    quality: ClassVar[float] = 0.5
    max_concurrency: ClassVar[int] = 16
    cpu_bound: ClassVar[bool] = False
    translates: ClassVar[bool] = False
    description: ClassVar[str] = (
        "Offline SRT/WebVTT/ASS writer (pysubs2): cues segmented and timed by reading speed, or "
        "manual timings; writes the text as given, does not translate."
    )

    def supports(self, request: TaskRequest) -> bool:
        """Any subtitle request that needs no translation."""
        return isinstance(request, SubtitleGenerationRequest) and not request.needs_translation

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        if not isinstance(request, SubtitleGenerationRequest):
            raise InvalidInput(f"{self.name} needs a SubtitleGenerationRequest, got {type(request).__name__}")
        if request.needs_translation:
            raise InvalidInput(
                f"{self.name} does not translate ({request.source_language} -> {request.target_language})"
            )
        ctx.raise_if_cancelled()
        cues = auto_cues(request.text) if request.timing_mode == "auto" else manual_cues(request)
        if not cues:
            raise InvalidInput("text has nothing to show as subtitles", field="text")
        ctx.progress(0.5, f"{len(cues)} cues")
        await asyncio.sleep(0)
        content = render(cues, request.format)
        artifact = ctx.store_artifact(f"subtitles.{request.format}", content.encode("utf-8"),
                                      CONTENT_TYPES[request.format])
        ctx.progress(1.0)
        duration = max(c.end for c in cues)
        chars = sum(len(c.text) for c in cues)
        return {
            "subtitle_url": artifact["url"],
            "format": request.format,
            "content": content,
            "cues": len(cues),
            "duration": duration,
            "metadata": {
                "provider": self.name,
                "language": request.target_language,
                "timing_mode": request.timing_mode,
                "size_bytes": artifact["size_bytes"],
                "characters": chars,
                "max_line_length": max(len(line) for c in cues for line in c.lines),
                "max_lines_per_cue": max(len(c.lines) for c in cues),
                "reading_speed_cps": CPS,
                "rules": {"max_line": MAX_LINE, "max_lines": MAX_LINES, "min_duration": MIN_DURATION,
                          "max_duration": MAX_DURATION},
                "translated": False,
            },
        }
