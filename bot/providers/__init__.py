"""The API adapters, one per request format, and the registry that lists them."""

from __future__ import annotations

from bot.providers.registry import build_providers

__all__ = ["build_providers"]
