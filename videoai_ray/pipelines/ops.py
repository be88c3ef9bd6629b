"""The Scheduler's pipeline methods (a mixin: the runner itself is ``runner.PipelineRunner``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runner import PipelineRunner


class PipelineOpsMixin:
    """``create_pipeline`` and ``cancel_pipeline``, called by ``PipelineService``."""

    pipelines: PipelineRunner

    async def create_pipeline(self, row: dict[str, Any]) -> dict[str, Any]:
        """Store a validated pipeline and submit its first steps (see ``PipelineRunner.create``)."""
        return await self.pipelines.create(row)

    async def cancel_pipeline(self, pipeline_id: str, user_id: str | None = None) -> None:
        await self.pipelines.cancel(pipeline_id, user_id)


__all__ = ["PipelineOpsMixin"]
