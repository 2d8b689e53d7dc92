"""Which plural form a number takes in a language: CLDR's categories, for Discord's locales.

The categories are CLDR's (`zero`, `one`, `two`, `few`, `many`, `other`); the rules follow CLDR's
for integers, which is all the catalog counts. Languages not named here use the English rule
(`one` for 1, else `other`). That is exact for most of Europe and merely coarse for the few
Discord locales with richer grammar left out for now (lt, hr, ro, he): their translators get
`one`/`other` only, never a wrong `few`.

Babel would give every CLDR language, but it ships tens of megabytes of locale data for what the
thirty-odd Discord locales need in a few lines.
"""

from __future__ import annotations

CATEGORIES = ("zero", "one", "two", "few", "many", "other")

# Numbers do not change the noun: one form serves every count.
_NO_PLURAL = frozenset({"id", "ja", "km", "ko", "lo", "ms", "my", "th", "vi", "zh"})
# French and Brazilian Portuguese say "0 photo" as they say "1 photo".
_ZERO_IS_ONE = frozenset({"fr", "pt"})
_EAST_SLAVIC = frozenset({"be", "ru", "uk"})
_CZECH_SLOVAK = frozenset({"cs", "sk"})


def category(locale: str, n: float) -> str:
    """The plural category of `n` in `locale` (a Discord code such as `pt-BR`, or a bare language)."""
    language = locale.split("-")[0].lower()
    whole = isinstance(n, int) or n.is_integer()
    i = int(abs(n))
    if language in _NO_PLURAL:
        return "other"
    if language in _ZERO_IS_ONE:
        return "one" if i in (0, 1) else "other"
    if not whole:
        # Fractions: CLDR gives Czech and Slovak their own form; everyone else here says "other".
        return "many" if language in _CZECH_SLOVAK else "other"
    if language in _EAST_SLAVIC:
        return _slavic(i, one=i % 10 == 1 and i % 100 != 11)
    if language == "pl":
        return _slavic(i, one=i == 1)
    if language in _CZECH_SLOVAK:
        return "one" if i == 1 else "few" if 2 <= i <= 4 else "other"
    return "one" if i == 1 else "other"


def _slavic(i: int, *, one: bool) -> str:
    """Russian, Ukrainian and Polish: 2-4 (but not 12-14) are `few`, the other integers `many`."""
    if one:
        return "one"
    if 2 <= i % 10 <= 4 and not 12 <= i % 100 <= 14:
        return "few"
    return "many"
