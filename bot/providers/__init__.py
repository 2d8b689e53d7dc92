"""The API adapters, one per request format, built from the settings."""

from __future__ import annotations

from bot.config import Settings
from bot.http import HttpClient
from bot.providers.base import Endpoint, ImageProvider
from bot.providers.gemini import GeminiProvider
from bot.providers.midjourney import MidjourneyProvider
from bot.providers.openai_chat import OpenAIChatProvider
from bot.providers.openai_images import OpenAIImagesProvider
from bot.routing import ApiFormat


def build_providers(settings: Settings, http: HttpClient) -> dict[ApiFormat, ImageProvider]:
    def endpoint(api_format: ApiFormat) -> Endpoint:
        target = settings.target(api_format)
        return Endpoint(target.base_url, target.api_key, settings.request_timeout)

    return {
        ApiFormat.GEMINI: GeminiProvider(http, endpoint(ApiFormat.GEMINI), settings.gemini_auth),
        ApiFormat.OPENAI_CHAT: OpenAIChatProvider(http, endpoint(ApiFormat.OPENAI_CHAT)),
        ApiFormat.OPENAI_IMAGES: OpenAIImagesProvider(http, endpoint(ApiFormat.OPENAI_IMAGES)),
        ApiFormat.MIDJOURNEY: MidjourneyProvider(
            http,
            endpoint(ApiFormat.MIDJOURNEY),
            poll_interval=settings.mj_poll_seconds,
        ),
    }
