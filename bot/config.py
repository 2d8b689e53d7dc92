"""Settings from the environment and `.env`, validated once at start-up.

What each setting is (variable, default, range, help) is declared once, in bot/settings_spec.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from dotenv import dotenv_values

from bot.providers.registry import settings_prefixes
from bot.routing import MAIN_RELAY, RELAY_NAME, ModelRoute, parse_model_entry, parse_models
from bot.settings_hints import missing_token
from bot.settings_parse import Parser
from bot.settings_spec import GeminiAuth, Setting, declared, default

__all__ = [
    "FORMAT_PREFIXES",
    "MAIN_RELAY",
    "SETTINGS",
    "ApiTarget",
    "ConfigError",
    "GeminiAuth",
    "Relay",
    "Settings",
]

# Per-format overrides of API_BASE_URL / API_KEY, for owners who use several providers; each adapter
# declares its prefix.
FORMAT_PREFIXES = settings_prefixes()
_PREFIXES = tuple(dict.fromkeys(FORMAT_PREFIXES.values()))
# Every setting the bot reads, the `<PREFIX>_BASE_URL` / `<PREFIX>_API_KEY` overrides included.
SETTINGS: tuple[Setting, ...] = declared(_PREFIXES)
_DECLARED = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class ApiTarget:
    base_url: str
    api_key: str = field(default="", repr=False)


@dataclass(frozen=True)
class Relay:
    """One relay the bot may call: its base URL and key, and per-format overrides where set."""

    name: str
    base_url: str
    api_key: str = field(default="", repr=False)
    # Base URL and key per format prefix ("GEMINI", "OPENAI", "MJ") where the owner set one.
    overrides: Mapping[str, ApiTarget] = field(default_factory=dict, repr=False)
    gemini_auth: GeminiAuth = GeminiAuth.BEARER

    def target(self, api_format: str) -> ApiTarget:
        """Where requests of one format go on this relay: its override, else the relay's own."""
        override = self.overrides.get(FORMAT_PREFIXES[api_format])
        return ApiTarget(
            override.base_url if override and override.base_url else self.base_url,
            override.api_key if override and override.api_key else self.api_key,
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(k for k in (self.api_key, *(t.api_key for t in self.overrides.values())) if k)

    @property
    def base_urls(self) -> tuple[str, ...]:
        return (self.base_url, *(t.base_url for t in self.overrides.values() if t.base_url))


class ConfigError(Exception):
    """Raised with every problem found, one readable line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    # Always given, so that a test or caller never runs on an empty token or key by accident.
    discord_token: str = field(repr=False)
    api_key: str = field(repr=False)
    api_base_url: str = default("API_BASE_URL")
    default_model: str = default("DEFAULT_MODEL")
    models: tuple[ModelRoute, ...] = default("MODELS")
    gemini_auth: GeminiAuth = default("GEMINI_AUTH")
    # Whether GEMINI_AUTH is the owner's own choice (never second-guessed) or the bot's guess from the
    # host, which the Gemini adapter may correct once when the relay refuses it. The loader sets it;
    # settings written in code are taken as meant.
    gemini_auth_explicit: bool = True
    dev_guild_id: int | None = default("DEV_GUILD_ID")
    default_locale: str = default("DEFAULT_LOCALE")
    log_level: str = default("LOG_LEVEL")
    log_format: str = default("LOG_FORMAT")
    health_port: int = default("HEALTH_PORT")  # 0: no health server
    health_host: str = default("HEALTH_HOST")
    data_dir: Path = default("DATA_DIR")
    request_timeout: float = default("REQUEST_TIMEOUT")
    discord_api_url: str | None = default("DISCORD_API_URL")
    discord_gateway_url: str | None = default("DISCORD_GATEWAY_URL")
    # Base URL and key per prefix ("GEMINI", "OPENAI", "MJ") where the owner set an override.
    overrides: dict[str, ApiTarget] = field(default_factory=dict, repr=False)
    mj_poll_seconds: float = default("MJ_POLL_SECONDS")
    mj_timeout: float = default("MJ_TIMEOUT")
    # Earlier exchanges a Gemini edit sends back as its conversation; 0 = stateless edits.
    edit_history_turns: int = default("EDIT_HISTORY_TURNS")
    allow_private_result_urls: bool = default("ALLOW_PRIVATE_RESULT_URLS")
    max_attempts: int = default("MAX_ATTEMPTS")
    retry_timeouts: bool = default("RETRY_TIMEOUTS")
    max_input_bytes: int = default("MAX_INPUT_MB")
    input_max_side: int = default("INPUT_MAX_SIDE")
    # The job engine: queue, time, quotas and access.
    max_concurrent_jobs: int = default("MAX_CONCURRENT_JOBS")
    max_jobs_per_user: int = default("MAX_JOBS_PER_USER")
    max_queue_length: int = default("MAX_QUEUE_LENGTH")
    # Caps on jobs running at once for one API format or one model name.
    concurrency_limits: dict[str, int] = default("CONCURRENCY_LIMITS")
    model_notes: dict[str, str] = default("MODEL_NOTES")
    prompt_translate_model: str = default("PROMPT_TRANSLATE_MODEL")  # "": off
    job_timeout: float = default("JOB_TIMEOUT")
    shutdown_grace: float = default("SHUTDOWN_GRACE")
    user_daily_limit: int = default("USER_DAILY_LIMIT")  # 0 = unlimited
    guild_daily_limit: int = default("GUILD_DAILY_LIMIT")
    user_cooldown: float = default("USER_COOLDOWN")
    admin_users: frozenset[int] = default("ADMIN_USERS")
    admin_roles: frozenset[int] = default("ADMIN_ROLES")
    allowed_guilds: frozenset[int] = default("ALLOWED_GUILDS")
    allowed_channels: frozenset[int] = default("ALLOWED_CHANNELS")
    allowed_roles: frozenset[int] = default("ALLOWED_ROLES")
    result_retention_hours: float = default("RESULT_RETENTION_HOURS")
    # Money: prices, budgets and the relay's balance, all in the owner's unit (CURRENCY).
    currency: str = default("CURRENCY")
    prices: dict[str, float] = default("PRICES")
    guild_monthly_budget: float = default("GUILD_MONTHLY_BUDGET")
    user_daily_budget: float = default("USER_DAILY_BUDGET")
    user_monthly_budget: float = default("USER_MONTHLY_BUDGET")
    role_budgets: dict[int, float] = default("ROLE_BUDGETS")
    balance_check_minutes: int = default("BALANCE_CHECK_MINUTES")
    quota_per_unit: int = default("QUOTA_PER_UNIT")
    low_balance: float = default("LOW_BALANCE")
    owner_log_channel: int | None = default("OWNER_LOG_CHANNEL")
    # The relays RELAYS names, beside main (API_BASE_URL and API_KEY), in the order written.
    extra_relays: tuple[Relay, ...] = ()
    breaker_failures: int = default("BREAKER_FAILURES")
    breaker_seconds: float = default("BREAKER_SECONDS")
    # Scaling out: the shared journal (None: the SQLite file in DATA_DIR). It may hold a password.
    database_url: str | None = field(default=default("DATABASE_URL"), repr=False)
    queue_url: str | None = field(default=default("QUEUE_URL"), repr=False)
    worker_heartbeat_seconds: float = default("WORKER_HEARTBEAT_SECONDS")
    global_max_concurrent_jobs: int = default("GLOBAL_MAX_CONCURRENT_JOBS")  # 0: the workers' sum
    shard_count: int = default("SHARD_COUNT")  # 0: one gateway connection, unsharded
    shard_ids: tuple[int, ...] = default("SHARD_IDS")  # (): every shard of SHARD_COUNT

    @property
    def relays(self) -> tuple[Relay, ...]:
        """Every relay, main first."""
        main = Relay(MAIN_RELAY, self.api_base_url, self.api_key, self.overrides, self.gemini_auth)
        return (main, *self.extra_relays)

    def relay(self, name: str) -> Relay:
        found = next((r for r in self.relays if r.name == name), None)
        if found is None:
            raise KeyError(f"no relay called {name!r}")
        return found

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every value that must never reach a log line or a message."""
        keys = [self.discord_token, *(key for relay in self.relays for key in relay.secrets)]
        for url in (self.database_url, self.queue_url):
            password = urlsplit(url).password or "" if url else ""
            keys += [password, unquote(password)]  # as written in the URL, and as sent
        return tuple(s for s in keys if s)

    def target(self, api_format: str, relay: str = MAIN_RELAY) -> ApiTarget:
        """Where requests of one format go: the relay's override for it, else the relay's URL and key."""
        return self.relay(relay).target(api_format)

    def route(self, model: str) -> ModelRoute | None:
        return next((r for r in self.models if r.name == model), None)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        env_file: Path | None = None,
        *,
        needs_token: bool = True,
        needs_api: bool = True,
    ) -> Settings:
        """Read the settings; the real environment wins over `.env`. Raise ConfigError on any problem.

        `needs_token` / `needs_api`: False for the commands that do without Discord (the command
        line) or without the image API (`sync`), so a setting they never use cannot stop them.
        """
        environ = os.environ if environ is None else environ
        env_file = Path(".env") if env_file is None else env_file
        file_values = dotenv_values(env_file) if env_file.is_file() else {}
        values = {k: v for k, v in file_values.items() if v is not None}
        values.update(environ)
        reader = _Reader(values)
        reader.needs_token, reader.needs_api = needs_token, needs_api
        reader.missing_token = missing_token(env_file, file_values)
        return reader.settings()


class _Reader:
    """Reads the declared settings; the ones marked custom need the others, so they are read here."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.parser = Parser(values)
        self.problems = self.parser.problems
        self.needs_token = self.needs_api = True
        self.missing_token = "DISCORD_TOKEN is not set: copy .env.example to .env and fill it in"  # noqa: S105

    def read(self, name: str) -> Any:
        return self.parser.read(_DECLARED[name])

    def settings(self) -> Settings:
        token = self.token()
        api_key = self.read("API_KEY")
        base_url = self.read("API_BASE_URL")
        default_model = self.read("DEFAULT_MODEL")
        models = self.models(default_model)
        overrides = {
            prefix: ApiTarget(self.read(f"{prefix}_BASE_URL"), self.read(f"{prefix}_API_KEY"))
            for prefix in _PREFIXES
        }
        overrides = {p: t for p, t in overrides.items() if t.base_url or t.api_key}
        if not api_key and self.needs_api:
            uncovered = {
                FORMAT_PREFIXES[m.format]
                for m in models
                if MAIN_RELAY in m.relays
                and not overrides.get(FORMAT_PREFIXES[m.format], ApiTarget("")).api_key
            }
            if uncovered or not models:
                self.problems.append(
                    "API_KEY is not set: put the key of your API relay (or your Gemini API key) in .env"
                )
        gemini_base = overrides.get("GEMINI", ApiTarget("")).base_url or base_url
        gemini_auth = self.gemini_auth(gemini_base)
        extra_relays = self.relays()
        self.check_relays(models, extra_relays)
        plain = {s.attr: self.parser.read(s) for s in _DECLARED.values() if s.attr and not s.custom}
        shard_ids = self.shard_ids(plain["shard_count"])
        if self.problems:
            raise ConfigError(self.problems)
        return Settings(
            discord_token=token,
            api_key=api_key,
            api_base_url=base_url,
            default_model=default_model,
            models=tuple(models),
            gemini_auth=gemini_auth,
            gemini_auth_explicit=bool(self.parser.raw("GEMINI_AUTH")),
            overrides=overrides,
            extra_relays=extra_relays,
            shard_ids=shard_ids,
            **plain,
        )

    def relays(self) -> tuple[Relay, ...]:
        """The relays RELAYS names, each with `RELAY_<NAME>_BASE_URL` and `RELAY_<NAME>_API_KEY`."""
        relays: list[Relay] = []
        for name in (part.strip().lower() for part in self.parser.raw("RELAYS").split(",")):
            if not name:
                continue
            if not RELAY_NAME.match(name) or name == MAIN_RELAY or any(r.name == name for r in relays):
                self.problems.append(
                    f"RELAYS: '{name}' is not a new relay name (a letter, then letters, digits or _; "
                    f"'{MAIN_RELAY}' is API_BASE_URL's, and each name once)"
                )
                continue
            env = f"RELAY_{name.upper()}"
            base_url = self.parser.base_url(f"{env}_BASE_URL", self.parser.raw(f"{env}_BASE_URL"))
            api_key = self.parser.raw(f"{env}_API_KEY")
            overrides = {
                prefix: ApiTarget(
                    self.parser.base_url(
                        f"{env}_{prefix}_BASE_URL", self.parser.raw(f"{env}_{prefix}_BASE_URL")
                    ),
                    self.parser.raw(f"{env}_{prefix}_API_KEY"),
                )
                for prefix in _PREFIXES
            }
            overrides = {p: t for p, t in overrides.items() if t.base_url or t.api_key}
            if not base_url:
                self.problems.append(f"{env}_BASE_URL is not set: RELAYS names the relay '{name}'")
            if not api_key and not overrides:
                self.problems.append(f"{env}_API_KEY is not set: put the key of the relay '{name}' there")
            gemini_base = overrides.get("GEMINI", ApiTarget("")).base_url or base_url
            relays.append(Relay(name, base_url, api_key, overrides, self.gemini_auth(gemini_base)))
        return tuple(relays)

    def check_relays(self, models: list[ModelRoute], relays: tuple[Relay, ...]) -> None:
        known = (MAIN_RELAY, *(r.name for r in relays))
        for route in models:
            unknown = [name for name in route.relays if name not in known]
            if unknown:
                self.problems.append(
                    f"MODELS: '{route.name}' names the relay '{unknown[0]}', which RELAYS does not list "
                    f"(relays: {', '.join(known)})"
                )

    def shard_ids(self, count: int) -> tuple[int, ...]:
        raw = self.parser.raw("SHARD_IDS")
        parts = [p.strip() for p in raw.replace(" ", ",").split(",") if p.strip()]
        if not parts:
            return ()
        if not count:
            self.problems.append("SHARD_IDS needs SHARD_COUNT: how many shards there are in all")
            return ()
        bad = [p for p in parts if not p.isdigit() or int(p) >= count]
        if bad:
            self.problems.append(
                f"SHARD_IDS must be shard numbers from 0 to {count - 1} (SHARD_COUNT is {count}), "
                f"got '{bad[0]}'"
            )
            return ()
        return tuple(sorted({int(p) for p in parts}))

    def token(self) -> str:
        token = self.read("DISCORD_TOKEN")
        if not token and self.needs_token:
            self.problems.append(self.missing_token)
        elif re.search(r"\s", token):
            # Never echo the value: it is a credential even when malformed.
            self.problems.append(
                "DISCORD_TOKEN must be the bare bot token from the Developer Portal "
                "(no 'Bot ' prefix, no spaces or quotes inside)"
            )
        return token

    def models(self, default_model: str) -> list[ModelRoute]:
        try:
            models = parse_models(self.parser.raw("MODELS"))
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
        if not self.parser.raw("GEMINI_AUTH"):
            # Google's own API takes the key in a header; relays mostly want a bearer token.
            host = urlsplit(base_url).hostname or ""
            return GeminiAuth.HEADER if host.endswith("googleapis.com") else GeminiAuth.BEARER
        return GeminiAuth(self.read("GEMINI_AUTH"))
