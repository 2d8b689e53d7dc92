"""Command names, descriptions and choices in the member's language, from the message catalog."""

from __future__ import annotations

from discord import Locale, app_commands
from discord.app_commands import TranslationContextTypes, locale_str

from bot.i18n import FALLBACK_LOCALE, Catalog

# Command metadata is declared at import time, before any owner catalog is loaded; the English
# text comes from the built-in catalog and other locales are filled in at sync by the translator.
BUILTIN = Catalog.load()


def text(key: str) -> locale_str:
    """A command string: English now, translated by key when the tree is synced."""
    return locale_str(BUILTIN.text(key), key=key)


class CatalogTranslator(app_commands.Translator):
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def translate(
        self, string: locale_str, locale: Locale, context: TranslationContextTypes
    ) -> str | None:
        key = string.extras.get("key")
        if not key or locale.value == FALLBACK_LOCALE:
            return None
        return self.catalog.exact(key, locale.value)
