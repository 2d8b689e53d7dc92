"""Plain facts about who is asking and where, taken from Discord objects for the core."""

from __future__ import annotations

import discord

from bot.jobs.access import Member
from bot.jobs.model import Origin


def member_of(interaction: discord.Interaction) -> Member:
    perms = interaction.permissions
    return Member(
        user_id=interaction.user.id,
        guild_id=interaction.guild_id,
        channel_ids=_channels(interaction.channel, interaction.channel_id),
        role_ids=_roles(interaction.user),
        is_moderator=perms.manage_messages,
        is_manager=perms.manage_guild,
    )


def origin_of(interaction: discord.Interaction) -> Origin:
    user = interaction.user
    return Origin(
        user_id=user.id,
        user_name=user.display_name,
        channel_id=interaction.channel_id or 0,
        guild_id=interaction.guild_id,
        avatar_url=user.display_avatar.url,
        locale=interaction.locale.value,
        upload_limit=interaction.filesize_limit,
        application_id=interaction.application_id,
        token=interaction.token,
        token_expires_at=interaction.expires_at.timestamp(),
        guild_locale=chosen_locale(interaction.guild_locale),
    )


def message_member(message: discord.Message) -> Member:
    author = message.author
    perms = author.guild_permissions if isinstance(author, discord.Member) else None
    return Member(
        user_id=author.id,
        guild_id=message.guild.id if message.guild else None,
        channel_ids=_channels(message.channel, message.channel.id),
        role_ids=_roles(author),
        is_moderator=bool(perms and perms.manage_messages),
        is_manager=bool(perms and perms.manage_guild),
    )


# Discord reports en-US for every server that is not a Community server (only those can pick a
# language), so en-US says nothing about the members: it is read as "not chosen".
UNCHOSEN_GUILD_LOCALE = "en-US"


def chosen_locale(locale: discord.Locale | None) -> str | None:
    """A server's preferred language if its owners chose one; None for Discord's default."""
    if locale is None or locale.value == UNCHOSEN_GUILD_LOCALE:
        return None
    return locale.value


def guild_locale(message: discord.Message) -> str | None:
    """The server's chosen language, for what the bot says in its channels (None: not chosen)."""
    return chosen_locale(message.guild.preferred_locale) if message.guild else None


def message_origin(message: discord.Message, locale: str) -> Origin:
    author = message.author
    limit = message.guild.filesize_limit if message.guild else discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
    return Origin(
        user_id=author.id,
        user_name=author.display_name,
        channel_id=message.channel.id,
        guild_id=message.guild.id if message.guild else None,
        avatar_url=author.display_avatar.url,
        locale=locale,
        upload_limit=limit,
        reply_to=message.id,
        guild_locale=locale,
    )


def _channels(channel: object, channel_id: int | None) -> tuple[int, ...]:
    # A thread counts as its parent channel for ALLOWED_CHANNELS.
    parent = getattr(channel, "parent_id", None)
    return tuple(c for c in (channel_id, parent) if c)


def _roles(user: discord.abc.User) -> frozenset[int]:
    roles = getattr(user, "_roles", None)  # Member keeps role ids even when the roles are not cached
    return frozenset(int(r) for r in roles) if roles is not None else frozenset()
