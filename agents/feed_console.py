"""feed_console: the console feed (``pipeline.console.feed``), restarted after a failure.

A task rather than an agent: it reads every partition itself, outside the consumer group, so
each worker's console store holds every alert (see the feed's docstring). A failure (the store's
server gone, say) is counted in ``tocsin_console_store_errors_total{operation="feed"}``.
"""

from __future__ import annotations

import asyncio
import logging

from pipeline import services
from pipeline.app import app
from pipeline.console import runtime

log = logging.getLogger(__name__)
RETRY_S = 5.0


@app.task  # type: ignore[untyped-decorator]  # faust.App.task is not typed
async def feed_console() -> None:
    if not services.settings().console.feed:
        return
    while True:
        try:
            await runtime.feed().run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the feed must not stop the worker; it starts over
            services.metrics().console_errors.labels("feed").inc()
            services.metrics().console_writer.set(0)
            log.error(
                "console feed stopped (%s: %s); restarting in %.0f s",
                type(exc).__name__,
                exc,
                RETRY_S,
            )
            await asyncio.sleep(RETRY_S)
