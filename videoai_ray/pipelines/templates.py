"""Ready-made pipeline specs.

``captioned_video``: transcribe an audio file, make subtitles from the transcript's segments
(their timings kept; translated when ``translate_to`` is given and a translating provider is
configured), then a video with those subtitles burned in and the audio muxed (the video spans
the audio)."""

from __future__ import annotations

from typing import Any


def captioned_video(audio_url: str, prompt: str, *, translate_to: str | None = None, subtitle_format: str = "srt",
                    fps: int = 12, resolution: str = "720p", style: str = "cinematic",
                    video: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The steps ``transcribe`` → ``subtitles`` → ``video``. ``translate_to`` (``en``, ``es``,
    ``fr``, ``de``): subtitles in that language, from the language the transcript detected
    (needs a provider that translates, e.g. OpenAI's with ``OPENAI_API_KEY``). ``video``: more
    fields of the video request (``provider``, ``priority``, ...)."""
    from . import ref, step

    subtitles: dict[str, Any] = {"text": ref("transcribe.output.text"), "timing_mode": "manual",
                                 "cues": ref("transcribe.output.segments", as_="cues"), "format": subtitle_format}
    if translate_to is not None:
        subtitles.update(target_language=translate_to, source_language=ref("transcribe.output.language"))
    return [
        step("transcribe", "audio_transcription", audio_url=audio_url),
        step("subtitles", "subtitle_generation", **subtitles),
        step("video", "video_generation", prompt=prompt, fps=fps, resolution=resolution, style=style,
             audio_url=ref("transcribe.input.audio_url"), subtitles_url=ref("subtitles.output.subtitle_url"),
             **(video or {})),
    ]


__all__ = ["captioned_video"]
