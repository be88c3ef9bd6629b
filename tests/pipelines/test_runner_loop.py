"""The pipeline loop's one ordering rule, without Ray: a pipeline is advanced only after a write
that covers the change that marked it. A pipeline marked while the loop waits for a write (a
step that ended while that write was already running) waits for the next one; read before its
step's change is committed, it would look unfinished, its mark would be spent and the pipeline
would stay running for good (the full suite's scheduled pipelines did, on a loaded machine)."""

from __future__ import annotations

import asyncio

from videoai_ray.pipelines.runner import PipelineRunner


class _Writer:
    """``written`` returns only when the test lets a write end; counts the writes ended."""

    def __init__(self) -> None:
        self.ended = 0
        self.release = asyncio.Event()

    async def written(self) -> None:
        await self.release.wait()
        self.release.clear()
        self.ended += 1


class _Intake:
    async def idle(self) -> None:
        return None


def test_a_pipeline_marked_during_a_write_waits_for_the_next_one() -> None:
    async def scenario() -> list[tuple[str, int]]:
        runner = PipelineRunner.__new__(PipelineRunner)
        writer = _Writer()
        runner.writer, runner.intake, runner.dirty, runner._wake = writer, _Intake(), set(), None  # type: ignore[assignment]
        advanced: list[tuple[str, int]] = []

        async def recover() -> None:
            return None

        async def advance(pipeline_id: str) -> None:
            advanced.append((pipeline_id, writer.ended))

        runner.recover = recover  # type: ignore[method-assign]
        runner._advance_or_fail = advance  # type: ignore[method-assign]
        loop = asyncio.create_task(runner.loop())
        await asyncio.sleep(0)
        runner.mark("first")
        await asyncio.sleep(0.01)        # the loop waits for the write that covers "first"
        runner.mark("second")            # its step ended while that write ran
        writer.release.set()
        await asyncio.sleep(0.01)
        assert advanced == [("first", 1)]  # "second" is not read yet
        writer.release.set()
        await asyncio.sleep(0.01)
        loop.cancel()
        return advanced

    assert asyncio.run(scenario()) == [("first", 1), ("second", 2)]
