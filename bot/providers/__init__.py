"""The API adapters, one per request format, built from the settings."""

from __future__ import annotations

from bot.config import Settings
from bot.http import HttpClient
from bot.providers.base import Endpoint, ImageProvider
from bot.providers.gemini import GeminiProvider
from bot.routing import ApiFormat


def build_providers(settings: Settings, http: HttpClient) -> dict[ApiFormat, ImageProvider]:
    endpoint = Endpoint(settings.api_base_url, settings.api_key, settings.request_timeout)
    return {ApiFormat.GEMINI: GeminiProvider(http, endpoint, settings.gemini_auth)}


IMPLEMENTED_FORMATS = frozenset({ApiFormat.GEMINI})
