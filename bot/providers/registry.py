"""Every request format the bot speaks, in one list: adding a format is its adapter and one line here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.http import HttpClient
from bot.providers.base import ImageProvider, TaskProvider
from bot.providers.gemini import GeminiProvider
from bot.providers.midjourney import MidjourneyProvider
from bot.providers.openai_chat import OpenAIChatProvider
from bot.providers.openai_images import OpenAIImagesProvider

if TYPE_CHECKING:
    from bot.config import Settings

# The order is the order owners read them in messages; model-name inference takes the first match.
ADAPTERS: tuple[type[ImageProvider], ...] = (
    GeminiProvider,
    OpenAIChatProvider,
    OpenAIImagesProvider,
    MidjourneyProvider,
)


def format_names() -> tuple[str, ...]:
    return tuple(adapter.name for adapter in ADAPTERS)


def adapter(name: str) -> type[ImageProvider] | None:
    return next((a for a in ADAPTERS if a.name == name), None)


def infer_format(model: str) -> str | None:
    """Guess the request format from a model name, or None when the name says nothing."""
    lowered = model.lower()
    return next((a.name for a in ADAPTERS if a.model_names.match(lowered)), None)


def is_image_model(model: str) -> bool:
    """Whether a name in the relay's model list is one of ours and makes pictures."""
    found = adapter(infer_format(model) or "")
    return found is not None and found.draws(model)


def settings_prefixes() -> dict[str, str]:
    """Each format's prefix for its base URL and key overrides (formats may share one)."""
    return {a.name: a.settings_prefix for a in ADAPTERS}


def task_format() -> str:
    """The first format that runs requests as upstream tasks (the usual example of a capped API)."""
    return next(a.name for a in ADAPTERS if issubclass(a, TaskProvider))


def model_list_format() -> str:
    """The format whose base URL serves the relay's model list."""
    return next(a.name for a in ADAPTERS if a.lists_models)


def build_providers(settings: Settings, http: HttpClient) -> dict[str, ImageProvider]:
    """Main's adapter of each format."""
    return {a.name: a.from_settings(settings, http) for a in ADAPTERS}


def build_relays(settings: Settings, http: HttpClient) -> dict[str, dict[str, ImageProvider]]:
    """Every relay's adapter of each format, by relay name, main first."""
    return {
        relay.name: {a.name: a.from_settings(settings, http, relay) for a in ADAPTERS}
        for relay in settings.relays
    }
