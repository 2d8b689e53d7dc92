"""Settings from the environment and `.env`, validated once at start-up."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import dotenv_values

from bot.providers.gemini import GeminiAuth
from bot.providers.registry import settings_prefixes
from bot.routing import ModelRoute, parse_model_entry, parse_models

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
DEFAULT_MODEL = "gemini-2.5-flash-image"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Interaction tokens live 15 minutes; an upstream call must end well before that.
MAX_REQUEST_TIMEOUT = 840.0


__all__ = ["FORMAT_PREFIXES", "ApiTarget", "ConfigError", "GeminiAuth", "Settings"]

# Per-format overrides of API_BASE_URL / API_KEY, for owners who use several providers; each adapter
# declares its prefix.
FORMAT_PREFIXES = settings_prefixes()


@dataclass(frozen=True)
class ApiTarget:
    base_url: str
    api_key: str = field(default="", repr=False)


class ConfigError(Exception):
    """Raised with every problem found, one readable line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    discord_token: str = field(repr=False)
    api_key: str = field(repr=False)
    api_base_url: str = DEFAULT_BASE_URL
    default_model: str = DEFAULT_MODEL
    models: tuple[ModelRoute, ...] = ()
    gemini_auth: GeminiAuth = GeminiAuth.HEADER
    dev_guild_id: int | None = None
    log_level: str = "INFO"
    data_dir: Path = Path("data")
    request_timeout: float = 180.0
    discord_api_url: str | None = None
    discord_gateway_url: str | None = None
    # Base URL and key per prefix ("GEMINI", "OPENAI", "MJ") where the owner set an override.
    overrides: dict[str, ApiTarget] = field(default_factory=dict, repr=False)
    mj_poll_seconds: float = 3.0
    mj_timeout: float = 600.0
    max_input_bytes: int = 25 * 1024 * 1024
    input_max_side: int = 2048
    # The job engine: queue, time, quotas and access.
    max_concurrent_jobs: int = 4
    max_jobs_per_user: int = 3
    max_queue_length: int = 50
    # Caps on jobs running at once for one API format or one model name.
    concurrency_limits: dict[str, int] = field(default_factory=dict)
    job_timeout: float = 300.0
    shutdown_grace: float = 30.0
    user_daily_limit: int = 0  # pictures a member may make per UTC day; 0 = unlimited
    guild_daily_limit: int = 0
    user_cooldown: float = 0.0  # seconds between one member's commands
    admin_users: frozenset[int] = frozenset()
    admin_roles: frozenset[int] = frozenset()
    allowed_guilds: frozenset[int] = frozenset()
    allowed_channels: frozenset[int] = frozenset()
    allowed_roles: frozenset[int] = frozenset()
    result_retention_hours: float = 24.0

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every value that must never reach a log line or a message."""
        keys = [self.discord_token, self.api_key, *(t.api_key for t in self.overrides.values())]
        return tuple(s for s in keys if s)

    def target(self, api_format: str) -> ApiTarget:
        """Where requests of one format go: its override, else API_BASE_URL and API_KEY."""
        override = self.overrides.get(FORMAT_PREFIXES[api_format])
        return ApiTarget(
            override.base_url if override and override.base_url else self.api_base_url,
            override.api_key if override and override.api_key else self.api_key,
        )

    def route(self, model: str) -> ModelRoute | None:
        return next((r for r in self.models if r.name == model), None)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, env_file: Path | None = None) -> Settings:
        """Read the settings; the real environment wins over `.env`. Raise ConfigError on any problem."""
        environ = os.environ if environ is None else environ
        env_file = Path(".env") if env_file is None else env_file
        values: dict[str, str] = {}
        if env_file.is_file():
            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(environ)
        return _Reader(values).settings()


class _Reader:
    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values
        self.problems: list[str] = []

    def get(self, name: str) -> str:
        return self.values.get(name, "").strip()

    def settings(self) -> Settings:
        token = self.token()
        api_key = self.get("API_KEY")
        base_url = self.base_url("API_BASE_URL", DEFAULT_BASE_URL)
        default_model = self.get("DEFAULT_MODEL") or DEFAULT_MODEL
        models = self.models(default_model)
        overrides = {
            prefix: ApiTarget(self.base_url(f"{prefix}_BASE_URL", ""), self.get(f"{prefix}_API_KEY"))
            for prefix in dict.fromkeys(FORMAT_PREFIXES.values())
        }
        overrides = {p: t for p, t in overrides.items() if t.base_url or t.api_key}
        if not api_key:
            uncovered = {
                FORMAT_PREFIXES[m.format]
                for m in models
                if not overrides.get(FORMAT_PREFIXES[m.format], ApiTarget("")).api_key
            }
            if uncovered or not models:
                self.problems.append(
                    "API_KEY is not set: put the key of your API relay (or your Gemini API key) in .env"
                )
        gemini_base = overrides.get("GEMINI", ApiTarget("")).base_url or base_url
        gemini_auth = self.gemini_auth(gemini_base)
        dev_guild_id = self.dev_guild_id()
        log_level = self.get("LOG_LEVEL").upper() or "INFO"
        if log_level not in LOG_LEVELS:
            self.problems.append(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got '{log_level}'")
        timeout = self.request_timeout()
        api_url = self.url("DISCORD_API_URL", ("http", "https"))
        gateway_url = self.url("DISCORD_GATEWAY_URL", ("ws", "wss"))
        mj_poll = self.seconds("MJ_POLL_SECONDS", 3.0, 0.05, 60)
        mj_timeout = self.seconds("MJ_TIMEOUT", 600.0, 10, 3600)
        max_input_mb = self.number("MAX_INPUT_MB", 25, 1, 500, "a number of megabytes")
        input_max_side = int(self.number("INPUT_MAX_SIDE", 2048, 256, 8192, "a number of pixels"))
        jobs = self.job_settings()
        if self.problems:
            raise ConfigError(self.problems)
        return Settings(
            discord_token=token,
            api_key=api_key,
            api_base_url=base_url,
            default_model=default_model,
            models=tuple(models),
            gemini_auth=gemini_auth,
            dev_guild_id=dev_guild_id,
            log_level=log_level,
            data_dir=Path(self.get("DATA_DIR") or "data"),
            request_timeout=timeout,
            discord_api_url=api_url,
            discord_gateway_url=gateway_url,
            overrides=overrides,
            mj_poll_seconds=mj_poll,
            mj_timeout=mj_timeout,
            max_input_bytes=int(max_input_mb * 1024 * 1024),
            input_max_side=input_max_side,
            **jobs,
        )

    def job_settings(self) -> dict[str, Any]:
        return {
            "max_concurrent_jobs": self.count("MAX_CONCURRENT_JOBS", 4, 1, 64),
            "max_jobs_per_user": self.count("MAX_JOBS_PER_USER", 3, 1, 100),
            "max_queue_length": self.count("MAX_QUEUE_LENGTH", 50, 1, 10000),
            "concurrency_limits": self.limits("CONCURRENCY_LIMITS"),
            "job_timeout": self.seconds("JOB_TIMEOUT", 300.0, 5, 3600),
            "shutdown_grace": self.seconds("SHUTDOWN_GRACE", 30.0, 0, 600),
            "user_daily_limit": self.count("USER_DAILY_LIMIT", 0, 0, 1_000_000),
            "guild_daily_limit": self.count("GUILD_DAILY_LIMIT", 0, 0, 1_000_000),
            "user_cooldown": self.seconds("USER_COOLDOWN", 0.0, 0, 86400),
            "admin_users": self.ids("ADMIN_USERS"),
            "admin_roles": self.ids("ADMIN_ROLES"),
            "allowed_guilds": self.ids("ALLOWED_GUILDS"),
            "allowed_channels": self.ids("ALLOWED_CHANNELS"),
            "allowed_roles": self.ids("ALLOWED_ROLES"),
            "result_retention_hours": self.number(
                "RESULT_RETENTION_HOURS", 24.0, 0, 8760, "a number of hours"
            ),
        }

    def count(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.get(name)
        if raw and not re.fullmatch(r"\d+", raw):
            self.problems.append(f"{name} must be a whole number from {low} to {high}, got '{raw}'")
            return default
        return int(self.number(name, default, low, high, "a whole number"))

    def ids(self, name: str) -> frozenset[int]:
        """A comma-separated list of Discord ids (servers, channels, roles or members)."""
        parts = [p.strip() for p in self.get(name).replace(" ", ",").split(",") if p.strip()]
        bad = [p for p in parts if not re.fullmatch(r"\d{15,21}", p)]
        if bad:
            self.problems.append(
                f"{name} must be Discord ids (15 to 21 digits) separated by commas, got '{bad[0]}'"
            )
        return frozenset(int(p) for p in parts if p not in bad)

    def limits(self, name: str) -> dict[str, int]:
        """`format_or_model=N` pairs, comma-separated: `midjourney=2,gpt-image-1=1`."""
        limits: dict[str, int] = {}
        for part in (p.strip() for p in self.get(name).split(",")):
            if not part:
                continue
            key, _, value = part.rpartition("=")
            if not key.strip() or not value.strip().isdigit() or int(value) < 1:
                self.problems.append(
                    f"{name} entries must look like midjourney=2 or gpt-image-1=1, got '{part}'"
                )
                continue
            limits[key.strip()] = int(value)
        return limits

    def token(self) -> str:
        token = self.get("DISCORD_TOKEN")
        if not token:
            self.problems.append("DISCORD_TOKEN is not set: copy .env.example to .env and fill it in")
        elif re.search(r"\s", token):
            # Never echo the value: it is a credential even when malformed.
            self.problems.append(
                "DISCORD_TOKEN must be the bare bot token from the Developer Portal "
                "(no 'Bot ' prefix, no spaces or quotes inside)"
            )
        return token

    def base_url(self, name: str, default: str) -> str:
        raw = self.get(name) or default
        if not raw:
            return ""
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            self.problems.append(
                f"{name} must be an http(s) URL such as https://api.example.com, got '{raw}'"
            )
            return raw
        if parts.query or parts.fragment:
            self.problems.append(
                f"{name} must not carry a query or fragment: put the key in the matching _API_KEY"
            )
        # Owners often paste the URL with the version path the relay's docs show; the bot adds it itself.
        path = re.sub(r"/(v1|v1beta|v1alpha)/?$", "", parts.path.rstrip("/"))
        return f"{parts.scheme}://{parts.netloc}{path}"

    def models(self, default_model: str) -> list[ModelRoute]:
        try:
            models = parse_models(self.get("MODELS"))
        except ValueError as exc:
            self.problems.append(f"MODELS: {exc}")
            return []
        if all(m.name != default_model for m in models):
            try:
                models.insert(0, parse_model_entry(default_model))
            except ValueError as exc:
                self.problems.append(f"DEFAULT_MODEL: {exc} in MODELS")
        return models

    def gemini_auth(self, base_url: str) -> GeminiAuth:
        raw = self.get("GEMINI_AUTH").lower()
        if not raw:
            host = urlsplit(base_url).hostname or ""
            return GeminiAuth.HEADER if host.endswith("googleapis.com") else GeminiAuth.BEARER
        try:
            return GeminiAuth(raw)
        except ValueError:
            self.problems.append(f"GEMINI_AUTH must be one of header, query, bearer, got '{raw}'")
            return GeminiAuth.BEARER

    def dev_guild_id(self) -> int | None:
        raw = self.get("DEV_GUILD_ID")
        if not raw:
            return None
        if not re.fullmatch(r"\d{15,21}", raw):
            self.problems.append(f"DEV_GUILD_ID must be a server id (15 to 21 digits), got '{raw}'")
            return None
        return int(raw)

    def request_timeout(self) -> float:
        return self.seconds("REQUEST_TIMEOUT", 180.0, 1, MAX_REQUEST_TIMEOUT)

    def seconds(self, name: str, default: float, low: float, high: float) -> float:
        return self.number(name, default, low, high, "a number of seconds")

    def number(self, name: str, default: float, low: float, high: float, what: str) -> float:
        raw = self.get(name)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not low <= value <= high:
            self.problems.append(f"{name} must be {what} from {low:g} to {high:g}, got '{raw}'")
            return default
        return value

    def url(self, name: str, schemes: tuple[str, ...]) -> str | None:
        raw = self.get(name)
        if not raw:
            return None
        parts = urlsplit(raw)
        if parts.scheme not in schemes or not parts.netloc:
            self.problems.append(f"{name} must be a {'/'.join(schemes)} URL, got '{raw}'")
        return raw.rstrip("/")
