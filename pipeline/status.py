"""``voice-onboard status``: what the ledger knows, per voice (no network)."""

from __future__ import annotations

import json
import sys
import time

from pipeline.config import JobConfig
from pipeline.ledger.sqlite import SqliteLedger


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


async def show_status(config: JobConfig, as_json: bool) -> int:
    """Print one row per voice the ledger knows; exit 0 (it only reads)."""
    if not config.ledger_path.exists():
        rows: list[dict[str, object]] = []
    else:
        async with SqliteLedger(config.ledger_path, config.batch) as ledger:
            states = await ledger.all()
        now = time.time()
        rows = [
            {
                "voice": s.key,
                "voice_name": s.voice_name,
                "stage": str(s.stage),
                "status": str(s.status),
                "remote_state": s.remote.get("state"),
                "remote": dict(s.remote),
                "age_s": round(now - s.updated_at, 1),
                "attempts": s.attempts,
                "last_error": s.last_error,
            }
            for s in states
        ]
    if as_json:
        json.dump({"batch": config.batch, "voices": rows}, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    if not rows:
        print(f"batch {config.batch}: the ledger knows no voices yet")
        return 0
    header = f"{'voice':<24} {'stage':<11} {'status':<16} {'remote':<16} {'age':>5}  last error"
    print(header)
    for r in rows:
        age = _age(float(str(r["age_s"])))
        err = str(r["last_error"] or "")[:60]
        print(
            f"{r['voice']!s:<24} {r['stage']!s:<11} {r['status']!s:<16} "
            f"{r['remote_state'] or '-'!s:<16} {age:>5}  {err}"
        )
    return 0
