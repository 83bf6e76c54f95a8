"""Live progress on a terminal: voices prepared, submitted and finished, and bytes uploaded.

Only used when stderr is a terminal; under cron the JSON log lines are the record instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline.stages.stream import Progress as Counters


@asynccontextmanager
async def live(counters: Counters, *, network: bool) -> AsyncIterator[None]:
    """Show ``counters`` as progress bars on stderr until the ``async with`` body ends."""
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[extra]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, redirect_stderr=True, transient=False) as bars:
        prepared = bars.add_task("prepared", total=None, extra="")
        submitted = bars.add_task("submitted", total=None, extra="", visible=network)
        done = bars.add_task("finished", total=None, extra="", visible=network)

        def refresh() -> None:
            total = counters.voices_total or None
            mb = counters.bytes_uploaded / 1e6
            bars.update(prepared, total=total, completed=counters.voices_prepared)
            bars.update(
                submitted,
                total=total,
                completed=counters.voices_submitted,
                extra=f"{mb:,.1f} MB uploaded",
            )
            bars.update(done, total=total, completed=counters.voices_done)

        async with anyio.create_task_group() as tg:

            async def tick() -> None:
                while True:
                    refresh()
                    await anyio.sleep(0.25)

            tg.start_soon(tick)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()
                refresh()
