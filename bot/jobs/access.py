"""Who may use the bot where (ALLOWED_* lists) and who the limits do not apply to (ADMIN_*)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.config import Settings


@dataclass(frozen=True)
class Member:
    """The facts about a member that access and limits depend on."""

    user_id: int
    guild_id: int | None
    channel_ids: tuple[int, ...]  # the channel, and the parent channel for a thread
    role_ids: frozenset[int] = frozenset()
    is_moderator: bool = False  # Manage Messages (cancel others' jobs)
    is_manager: bool = False  # Manage Server (sees the server's totals in /usage)


def is_exempt(settings: Settings, member: Member) -> bool:
    return member.user_id in settings.admin_users or bool(member.role_ids & settings.admin_roles)


def is_allowed(settings: Settings, member: Member) -> bool:
    """Whether every allowlist the owner set lets this member use the bot here."""
    if (
        is_exempt(settings, member)
        and member.guild_id is not None
        and _in(member.guild_id, settings.allowed_guilds)
    ):
        return True
    if not _in(member.guild_id, settings.allowed_guilds):
        return False
    if settings.allowed_channels and not any(c in settings.allowed_channels for c in member.channel_ids):
        return False
    return not settings.allowed_roles or bool(member.role_ids & settings.allowed_roles)


def _in(value: int | None, allowed: Iterable[int]) -> bool:
    allowed = frozenset(allowed)
    return not allowed or (value is not None and value in allowed)
