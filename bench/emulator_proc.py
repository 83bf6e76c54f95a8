"""The emulator in a process of its own, as the benchmarks' stand-in for the remote service.

``python -m bench.emulator_proc --info FILE [--urls N]`` starts the emulator on a free loopback
port, mints ``N`` pre-signed PUT URLs for ``application/zip`` objects in its object store,
writes ``{"base_url": …, "urls": […]}`` to FILE and serves until SIGTERM or SIGINT. Its own
process keeps its CPU out of our measurements (a real provider's servers are not on this
machine; on a 2-core machine it still competes for the cores, equally for ours and for the
anchors). Every voice is forced to succeed, so a commit does not run the emulator's audit of
the package: that is the provider's work, not ours. For the same reason uploaded objects are
stored in memory (``/dev/shm``, where there is one): the provider's disks are not this
machine's, and 3 GB of the emulator's writeback would otherwise compete with ours.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
from pathlib import Path

import anyio

from pipeline.emulator.context import EmulatorOptions
from pipeline.emulator.server import Emulator

BUCKET = "bench"
CONTENT_TYPE = "application/zip"


async def _serve(info: Path, urls: int, time_scale: float) -> None:
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as storage:
        options = EmulatorOptions(
            port=0, time_scale=time_scale, outcomes=(("*", "SUCCEED"),), storage=Path(storage)
        )
        await _serve_with(options, info, urls)


async def _serve_with(options: EmulatorOptions, info: Path, urls: int) -> None:
    async with Emulator(options) as emu:
        minted = [
            emu.huawei.store.presign_put(BUCKET, f"upload/{i:03d}.zip", (CONTENT_TYPE,))
            for i in range(urls)
        ]
        tmp = info.with_name(info.name + ".tmp")
        tmp.write_text(json.dumps({"base_url": emu.base_url, "urls": minted}), encoding="utf-8")
        os.replace(tmp, info)
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for _ in signals:
                return


def main() -> None:
    """Parse the flags and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--info", type=Path, required=True, help="where to write the URLs")
    parser.add_argument("--urls", type=int, default=0, help="pre-signed PUT URLs to mint")
    parser.add_argument("--time-scale", type=float, default=1.0)
    args = parser.parse_args()
    anyio.run(_serve, args.info, args.urls, args.time_scale)


if __name__ == "__main__":
    main()
