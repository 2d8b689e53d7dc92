"""The provider registry: every adapter declares itself, and the rest of the bot reads only that."""

from __future__ import annotations

import re

import aiohttp

from bot.config import FORMAT_PREFIXES, Settings
from bot.http import HttpClient
from bot.providers.base import ImageProvider, TaskProvider
from bot.providers.registry import (
    ADAPTERS,
    build_providers,
    format_names,
    infer_format,
    is_image_model,
    model_list_format,
)
from bot.redact import Redactor


def test_every_adapter_declares_a_unique_name_a_prefix_and_its_model_names() -> None:
    assert len(set(format_names())) == len(ADAPTERS)
    for adapter in ADAPTERS:
        assert re.fullmatch(r"[a-z][a-z0-9-]*", adapter.name)
        assert re.fullmatch(r"[A-Z][A-Z0-9]*", adapter.settings_prefix)
        assert isinstance(adapter.model_names, re.Pattern)
        assert FORMAT_PREFIXES[adapter.name] == adapter.settings_prefix


def test_inference_takes_the_first_adapter_whose_names_match() -> None:
    for adapter in ADAPTERS:
        claimed = [a.name for a in ADAPTERS if a.model_names.match(adapter.name)]
        assert claimed[:1] in ([], [adapter.name])
    assert infer_format("no-such-family") is None


def test_exactly_one_format_serves_the_model_list() -> None:
    assert [a.name for a in ADAPTERS if a.lists_models] == [model_list_format()]


def test_unknown_families_are_not_image_models() -> None:
    assert not is_image_model("text-embedding-3-small")


async def test_build_providers_makes_one_adapter_per_format_from_the_settings() -> None:
    settings = Settings(discord_token="t", api_key="k", api_base_url="http://127.0.0.1:9", mj_timeout=900)
    async with aiohttp.ClientSession() as session:
        providers = build_providers(settings, HttpClient(session, Redactor(settings.secrets)))
    assert list(providers) == list(format_names())
    for name, provider in providers.items():
        assert isinstance(provider, ImageProvider) and provider.name == name
        assert provider.endpoint.base_url == "http://127.0.0.1:9"
    tasks = [p for p in providers.values() if isinstance(p, TaskProvider)]
    assert tasks and all(p.time_limit == 900 for p in tasks)
