"""Static HTML of a future's or a batch's last state: what a saved notebook shows where the live
widget was once the kernel is gone (GitHub, nbviewer, an HTML export, JupyterLab without a kernel).

Those keep only an output's ``text/html`` and ``text/plain``, never the kernel's widgets, so the
views in :mod:`videoai_ray.widgets` publish this HTML next to the widget and replace the widget with
it at the terminal state. Small outputs are embedded (a thumbnail of each image, the video and the
uploaded audio as data URIs), larger ones and outputs on other hosts are linked; transcripts and
subtitles are shown as text. Nothing here needs ipywidgets or a kernel.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import mimetypes
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .artifacts import ArtifactStore
from .models import Task, TaskStatus, TaskType
from .models.enums import terminal_count
from .models.requests import UPLOAD_REF

log = logging.getLogger("videoai.snapshots")

#: artifacts larger than this are linked, not embedded
MAX_INLINE_BYTES = 20 * 1024 * 1024
#: images are shown at most this wide; larger ones are embedded as a thumbnail of this width
THUMBNAIL_PX = 320
COLORS = {"pending": "#888", "processing": "#1f77b4", "retrying": "#ff7f0e", "completed": "#2ca02c",
          "failed": "#d62728", "cancelled": "#555"}
ORDER = [s.value for s in TaskStatus]


@dataclass(frozen=True, slots=True)
class Media:
    """One artifact to show: ``kind`` is ``image``, ``video`` or ``audio``."""

    kind: str
    url: str
    size: int | None = None
    width: int | None = None

    @property
    def format(self) -> str:
        name = self.url.rsplit("/", 1)[-1]
        return name.rsplit(".", 1)[-1].lower() if "." in name else self.kind


def chip(status: str, n: int | None = None) -> str:
    """A coloured status label (with a count for batches)."""
    text = status if n is None else f"{status} {n}"
    return (f'<span style="background:{COLORS.get(status, "#888")};color:white;border-radius:3px;'
            f'padding:1px 6px;margin-right:4px;font-size:90%">{html.escape(text)}</span>')


def _pre(text: str, limit: int = 4000) -> str:
    """Preformatted text, cut at ``limit`` characters."""
    if len(text) > limit:
        text = text[:limit] + f"\n… ({len(text) - limit} more characters)"
    return (f'<pre style="white-space:pre-wrap;max-height:18em;overflow:auto;font-family:monospace;'
            f'font-size:90%;background:#f7f7f7;padding:4px 6px;margin:4px 0">{html.escape(text)}</pre>')


def _error(task: Task) -> str:
    err = task.error
    msg = f"{err.code}: {err.message}" if err else task.status.value
    return f'<div style="color:{COLORS["failed"]}"><b>{task.status.value}</b> {html.escape(msg)}</div>'


def task_summary(task: Task) -> str:
    """A few plain-text lines about a task: what it is, where it is, and its output or error."""
    pct = f" {task.progress:.0%}" if task.status is TaskStatus.PROCESSING else ""
    lines = [f"{task.id} {task.type.value} {task.status.value}{pct} provider={task.provider or '-'}"
             f" attempts={task.attempts}" + (" (cache hit)" if task.cache_hit else "")]
    if task.error is not None and task.status is not TaskStatus.COMPLETED:
        lines.append(f"error {task.error.code}: {task.error.message}")
    out = task.output or {}
    for key in ("image_url", "video_url", "subtitle_url", "transcript_url"):
        if out.get(key):
            lines.append(f"{key}: {out[key]}")
    if out.get("text"):
        lines.append(f"text: {str(out['text'])[:500]}")
    return "\n".join(lines)


def _output_parts(task: Task, store: ArtifactStore) -> Iterator[Media | str]:
    """What a completed task's output shows, in order: media to render, and HTML fragments (text)."""
    out = task.output or {}
    found = False
    if task.type is TaskType.IMAGE_GENERATION:
        for img in out.get("images") or [{"url": out.get("image_url")}]:
            if img.get("url"):
                found = True
                yield Media("image", img["url"], img.get("size_bytes"), min(int(img.get("width") or 320), 320))
    elif task.type is TaskType.VIDEO_GENERATION and out.get("video_url"):
        found = True
        yield Media("video", out["video_url"], (out.get("metadata") or {}).get("size_bytes"), 480)
    elif task.type is TaskType.AUDIO_TRANSCRIPTION:
        src = task.input.get("audio_url")
        if isinstance(src, str) and UPLOAD_REF.match(src):  # the file the SDK uploaded for this user
            src = store.upload_url(src, task.user_id)
        if isinstance(src, str) and store.owns(src):
            found = True
            yield Media("audio", src)
        if "text" in out:
            found = True
            yield _pre(str(out["text"]))
    elif task.type is TaskType.SUBTITLE_GENERATION and "content" in out:
        found = True
        yield (f"<small>{html.escape(str(out.get('format', '')))}, {out.get('cues', '?')} cues</small>"
               + _pre(str(out["content"])))
    if not found:
        yield _pre(json.dumps(out, indent=1, default=str), 2000)


def _read(media: Media, store: ArtifactStore) -> bytes:
    """The artifact's bytes; raises (``ValueError`` when it is too large to embed) so callers link it."""
    size = media.size
    if size is None and store.is_local and store.owns(media.url):
        size = store.local_path(media.url).stat().st_size
    if size is not None and size > MAX_INLINE_BYTES:
        raise ValueError(f"{size / 1e6:.1f} MB, too large to embed")
    return store.read_bytes(media.url)


def _link(media: Media, why: str) -> str:
    """A link to an artifact that is not embedded (a plain path where a browser could not follow it)."""
    url = html.escape(media.url)
    target = f'<a href="{url}">{url}</a>' if media.url.startswith(("http://", "https://")) else f"<code>{url}</code>"
    return f"{media.kind}: {target} ({html.escape(why[:200])})"


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _thumbnail(data: bytes, width: int) -> tuple[bytes, str]:
    """The image scaled down to ``width`` pixels (JPEG, or PNG where it has transparency)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        if img.width <= width and len(data) <= 256 * 1024:
            fmt = (img.format or "png").lower()
            return data, Image.MIME.get(img.format or "PNG", f"image/{fmt}")
        img.thumbnail((width, width * 4))
        buf = io.BytesIO()
        if img.mode in ("RGBA", "LA", "P"):
            img.save(buf, format="PNG", optimize=True)
            return buf.getvalue(), "image/png"
        img.convert("RGB").save(buf, format="JPEG", quality=85)
        return buf.getvalue(), "image/jpeg"


def media_html(media: Media, store: ArtifactStore) -> str:
    """An ``<img>``, ``<video>`` or ``<audio>`` element for ``media``, embedded when it can be."""
    if not store.owns(media.url) and media.url.startswith(("http://", "https://")):
        src = html.escape(media.url)  # a public URL: the reader's browser loads it, nothing to embed
    else:
        try:
            data = _read(media, store)
            if media.kind == "image":
                data, mime = _thumbnail(data, media.width or THUMBNAIL_PX)
            else:
                mime = mimetypes.guess_type(media.url)[0] or f"{media.kind}/{media.format}"
        except Exception as e:  # unreadable or too large: link instead of failing the view
            log.debug("not embedding %s", media.url, exc_info=True)
            return f"<div>{_link(media, str(e) or type(e).__name__)}</div>"
        src = _data_uri(data, mime)
    if media.kind == "image":
        return (f'<img src="{src}" alt="{html.escape(media.url.rsplit("/", 1)[-1])}" '
                f'style="width:{media.width or THUMBNAIL_PX}px;max-width:100%;margin:2px">')
    return (f'<{media.kind} controls preload="metadata" src="{src}"'
            + (f' width="{media.width}"' if media.kind == "video" and media.width else "")
            + f'>{_link(media, "your browser cannot play it here")}</{media.kind}>')


def progress_bar(fraction: float, color: str, width: str = "50%") -> str:
    pct = max(0.0, min(1.0, fraction)) * 100
    return (f'<div style="display:inline-block;vertical-align:middle;width:{width};height:12px;'
            f'background:#eee;border-radius:3px;overflow:hidden;margin-right:6px">'
            f'<div style="width:{pct:.1f}%;height:100%;background:{color}"></div></div>')


def task_header(task: Task) -> str:
    return (f"<b>{task.type.value}</b> <code>{html.escape(task.id)}</code> {chip(task.status.value)}"
            f" provider <b>{html.escape(task.provider or '—')}</b>" + (" (cache hit)" if task.cache_hit else ""))


def task_detail(task: Task) -> str:
    """Progress, attempt, duration and cost, as one line."""
    parts = [f"{task.progress:.0%}", f"attempt {task.attempts}" if task.attempts else ""]
    if task.duration is not None:
        parts.append(f"{task.duration:.2f} s")
    if task.cost:
        parts.append(f"${task.cost:.4f}")
    return " · ".join(p for p in parts if p)


def task_html(task: Task, artifacts: ArtifactStore | str) -> str:
    """The whole view of one task as static HTML: header, bar, details, then output or error.
    ``artifacts``: the deployment's store (``ArtifactStore.of(settings)``, with its storage
    options), or a root URL that needs none."""
    status = task.status.value
    fraction = 1.0 if task.status is TaskStatus.COMPLETED else task.progress
    body = [f"<div>{task_header(task)}</div>",
            f"<div>{progress_bar(fraction, COLORS.get(status, '#888'))}{html.escape(task_detail(task))}</div>"]
    if task.status is TaskStatus.COMPLETED:
        store = artifacts if isinstance(artifacts, ArtifactStore) else ArtifactStore(artifacts)
        for part in _output_parts(task, store):
            body.append(part if isinstance(part, str) else media_html(part, store))
    elif task.done:
        body.append(_error(task))
    return f'<div class="videoai-task" style="font-family:sans-serif">{"".join(body)}</div>'


def counts_bar(counts: Mapping[str, int], total: int, width: str = "60%") -> str:
    """A bar with one coloured segment per status, sized by its share of ``total``."""
    segments = "".join(
        f'<div title="{s} {counts[s]}" style="width:{100 * counts[s] / max(total, 1):.2f}%;height:100%;'
        f'background:{COLORS[s]}"></div>' for s in ORDER if counts.get(s))
    return (f'<div style="display:flex;width:{width};height:14px;background:#eee;border-radius:3px;'
            f'overflow:hidden">{segments}</div>')


def batch_html(batch_id: str, total: int, counts: Mapping[str, int], note: str = "") -> str:
    """A batch as static HTML: header, the counts bar, a chip per status and ``note`` (throughput)."""
    done = terminal_count(counts)
    chips = "".join(chip(s, counts[s]) for s in ORDER if counts.get(s))
    return (f'<div class="videoai-batch" style="font-family:sans-serif"><div><b>batch</b> '
            f"<code>{html.escape(batch_id)}</code>, {total} tasks</div>{counts_bar(counts, total)}"
            f"<div>{chips} &nbsp; {done}/{total} done{html.escape(note)}</div></div>")


def batch_summary(batch_id: str, total: int, counts: Mapping[str, Any]) -> str:
    text = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    return f"<Batch {batch_id} {total} tasks: {text}>"
