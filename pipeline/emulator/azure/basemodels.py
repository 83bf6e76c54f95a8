"""``GET /customvoice/basemodels``: the fixed list of base models personal voices build on."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from pipeline.emulator.azure.records import GA_VERSION

BASE_MODELS: Final = ("DragonLatestNeural", "PhoenixLatestNeural", "PhoenixV2Neural")


async def base_models(request: web.Request, version: str) -> web.StreamResponse:
    models = [
        {
            "name": name,
            "description": f"{name} base model",
            "releaseDateTime": "2024-01-01T00:00:00.000Z",
            "capabilities": ["PersonalVoice"],
        }
        for name in BASE_MODELS
    ]
    if version == GA_VERSION:
        return web.json_response({"value": models})
    return web.json_response(models)  # a bare array before GA (SPEC-P24)
