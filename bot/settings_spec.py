"""Every setting the bot reads, declared once: its variable, attribute, kind, default, range and help.

bot.config derives the Settings defaults and the reading from this list, and a unit test holds
`.env.example` and README.md to it. Defaults are in the unit the owner writes in `.env`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from bot.providers.gemini import GeminiAuth as GeminiAuth
from bot.providers.registry import task_format

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
DEFAULT_MODEL = "gemini-2.5-flash-image"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
# Interaction tokens live 15 minutes; an upstream call must end well before that.
MAX_REQUEST_TIMEOUT = 840.0
MEGABYTE = 1024 * 1024
# The example owners read for CONCURRENCY_LIMITS: task APIs are the ones usually capped.
CAP_EXAMPLE = (f"{task_format()}=2", "gpt-image-1=1")


class Kind(Enum):
    """How a value is written in `.env`; a number kind's value is the noun its range message uses."""

    WHOLE = "a whole number"
    SECONDS = "a number of seconds"
    HOURS = "a number of hours"
    PIXELS = "a number of pixels"
    MEGABYTES = "a number of megabytes"
    TEXT = "text"
    PATH = "a folder"
    CHOICE = "one of its choices"
    URL = "a URL"
    BASE_URL = "an http(s) base URL"
    GUILD_ID = "a server id"
    IDS = "comma-separated Discord ids"
    LIMITS = "comma-separated format_or_model=N caps"
    NOTES = "semicolon-separated model=words notes"
    CHAT_MODEL = "a chat model, `name` or `name=openai-chat`"
    MODELS = "comma-separated models"
    RELAYS = "comma-separated relay names"
    AMOUNT = "an amount"
    PRICES = "comma-separated model=price entries"
    ROLE_AMOUNTS = "comma-separated roleid:amount entries"
    SWITCH = "0 or 1"
    SHARDS = "comma-separated shard numbers"


NUMBER_KINDS = frozenset({Kind.WHOLE, Kind.SECONDS, Kind.HOURS, Kind.PIXELS, Kind.MEGABYTES, Kind.AMOUNT})
# Prices and budgets: in the owner's currency, whatever CURRENCY calls it.
MAX_AMOUNT = 1_000_000_000


@dataclass(frozen=True)
class Setting:
    name: str  # the environment variable
    attr: str | None  # the Settings attribute; None where bot.config files the value elsewhere
    kind: Kind
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()  # CHOICE: the values; URL: the schemes
    # Read by bot.config itself: the value depends on other settings or needs a check of its own.
    custom: bool = False

    def attribute_value(self, value: Any) -> Any:
        """A value in the owner's unit, as the Settings attribute keeps it."""
        match self.kind:
            case Kind.MEGABYTES:
                return int(value * MEGABYTE)
            case Kind.WHOLE | Kind.PIXELS:
                return int(value)
            case Kind.SECONDS | Kind.HOURS | Kind.AMOUNT:
                return float(value)
            case Kind.PATH:
                return Path(value)
            case Kind.IDS:
                return frozenset(value)
            case Kind.SHARDS:
                return tuple(value)
            case Kind.LIMITS | Kind.PRICES | Kind.ROLE_AMOUNTS | Kind.NOTES:
                return dict(value)
        return value


# In the order the reader checks them, so problems are reported in this order.
GENERAL: tuple[Setting, ...] = (
    Setting("DISCORD_TOKEN", "discord_token", Kind.TEXT, "", "the bot token (required)", custom=True),
    Setting(
        "API_KEY",
        "api_key",
        Kind.TEXT,
        "",
        "the relay's key or a Gemini API key (not needed when each format has its own)",
        custom=True,
    ),
    Setting(
        "API_BASE_URL",
        "api_base_url",
        Kind.BASE_URL,
        DEFAULT_BASE_URL,
        "where the image API lives, without /v1 or /v1beta",
        custom=True,
    ),
    Setting(
        "DEFAULT_MODEL",
        "default_model",
        Kind.TEXT,
        DEFAULT_MODEL,
        "the model used when a member picks none",
        custom=True,
    ),
    Setting(
        "MODELS",
        "models",
        Kind.MODELS,
        (),
        "models members may pick, each `name` or `name=format`",
        custom=True,
    ),
    Setting(
        "GEMINI_AUTH",
        "gemini_auth",
        Kind.CHOICE,
        # Only the default for Google's host: bot.config picks bearer for any other.
        GeminiAuth.HEADER,
        "how the key is sent to the Gemini format",
        choices=tuple(GeminiAuth),
        custom=True,
    ),
    Setting(
        "MODEL_NOTES",
        "model_notes",
        Kind.NOTES,
        (),
        "what each model is good at, shown in /models: `model=words; other-model=words`",
    ),
    Setting(
        "PROMPT_TRANSLATE_MODEL",
        "prompt_translate_model",
        Kind.CHAT_MODEL,
        "",
        "a chat model that translates non-English prompts for Midjourney first (off when empty)",
    ),
    Setting(
        "DEV_GUILD_ID",
        "dev_guild_id",
        Kind.GUILD_ID,
        None,
        "a server the commands are copied to and synced at start-up",
    ),
    Setting(
        "DEFAULT_LOCALE",
        "default_locale",
        Kind.TEXT,
        "en-US",
        "the language of replies to members whose Discord language has no catalog (a Discord locale code)",
    ),
    Setting(
        "LOG_LEVEL",
        "log_level",
        Kind.CHOICE,
        "INFO",
        "how much the bot logs; keys and tokens are always masked",
        choices=LOG_LEVELS,
    ),
    Setting(
        "LOG_FORMAT",
        "log_format",
        Kind.CHOICE,
        "text",
        "text, or json: one JSON object per line (with the job id where there is one)",
        choices=LOG_FORMATS,
    ),
    Setting(
        "HEALTH_PORT",
        "health_port",
        Kind.WHOLE,
        0,
        "a port for /healthz and /metrics over HTTP (0: no health server)",
        low=0,
        high=65535,
    ),
    Setting(
        "HEALTH_HOST",
        "health_host",
        Kind.TEXT,
        "127.0.0.1",
        "the address the health server listens on (0.0.0.0 in a container)",
    ),
    Setting(
        "REQUEST_TIMEOUT",
        "request_timeout",
        Kind.SECONDS,
        180,
        "seconds one call to the image API may take",
        low=1,
        high=MAX_REQUEST_TIMEOUT,
    ),
    Setting(
        "DISCORD_API_URL",
        "discord_api_url",
        Kind.URL,
        None,
        "advanced: Discord's HTTP API behind a reverse proxy",
        choices=("http", "https"),
    ),
    Setting(
        "DISCORD_GATEWAY_URL",
        "discord_gateway_url",
        Kind.URL,
        None,
        "advanced: Discord's gateway behind a reverse proxy",
        choices=("ws", "wss"),
    ),
    Setting(
        "RELAYS",
        None,
        Kind.RELAYS,
        "",
        "more relays by name (main is API_BASE_URL's), each with RELAY_<NAME>_BASE_URL and _API_KEY",
        custom=True,
    ),
    Setting(
        "BREAKER_FAILURES",
        "breaker_failures",
        Kind.WHOLE,
        5,
        "failures in a row after which a relay's models go to their next relay for a while",
        low=1,
        high=1000,
    ),
    Setting(
        "BREAKER_SECONDS",
        "breaker_seconds",
        Kind.SECONDS,
        60,
        "seconds a failing relay is passed over before one job tries it again",
        low=1,
        high=86400,
    ),
    Setting(
        "MJ_POLL_SECONDS",
        "mj_poll_seconds",
        Kind.SECONDS,
        3,
        "seconds between two looks at a running MJ task",
        low=0.05,
        high=60,
    ),
    Setting(
        "MJ_TIMEOUT",
        "mj_timeout",
        Kind.SECONDS,
        600,
        "seconds an MJ task may go without progress",
        low=10,
        high=3600,
    ),
    Setting(
        "MAX_ATTEMPTS",
        "max_attempts",
        Kind.WHOLE,
        3,
        "calls that can make a picture one picture may cost in all: retries included (1 to 10)",
        low=1,
        high=10,
    ),
    Setting(
        "RETRY_TIMEOUTS",
        "retry_timeouts",
        Kind.SWITCH,
        False,
        "1: a generation that timed out is sent again (it may still run and be billed upstream)",
    ),
    Setting(
        "ALLOW_PRIVATE_RESULT_URLS",
        "allow_private_result_urls",
        Kind.SWITCH,
        False,
        "1: result links may point at loopback and private addresses (link-local and metadata never)",
    ),
    Setting(
        "EDIT_HISTORY_TURNS",
        "edit_history_turns",
        Kind.WHOLE,
        4,
        "earlier exchanges an edit of a Gemini result sends back (0: stateless edits)",
        low=0,
        high=20,
    ),
    Setting(
        "MAX_INPUT_MB",
        "max_input_bytes",
        Kind.MEGABYTES,
        25,
        "the largest picture the bot downloads",
        low=1,
        high=500,
    ),
    Setting(
        "INPUT_MAX_SIDE",
        "input_max_side",
        Kind.PIXELS,
        2048,
        "the long side pictures are scaled down to before they are sent",
        low=256,
        high=8192,
    ),
    Setting(
        "MAX_CONCURRENT_JOBS",
        "max_concurrent_jobs",
        Kind.WHOLE,
        4,
        "jobs that call the image API at the same time",
        low=1,
        high=64,
    ),
    Setting(
        "MAX_JOBS_PER_USER",
        "max_jobs_per_user",
        Kind.WHOLE,
        3,
        "jobs one member may have waiting or running",
        low=1,
        high=100,
    ),
    Setting(
        "MAX_QUEUE_LENGTH",
        "max_queue_length",
        Kind.WHOLE,
        50,
        "jobs that may wait for a free slot before commands get 'queue full'",
        low=1,
        high=10000,
    ),
    Setting(
        "CONCURRENCY_LIMITS",
        "concurrency_limits",
        Kind.LIMITS,
        (),
        f"caps on jobs at once for one format or model: {','.join(CAP_EXAMPLE)}",
    ),
    Setting(
        "JOB_TIMEOUT",
        "job_timeout",
        Kind.SECONDS,
        300,
        "seconds a job may run once it leaves the queue",
        low=5,
        high=3600,
    ),
    Setting(
        "SHUTDOWN_GRACE",
        "shutdown_grace",
        Kind.SECONDS,
        30,
        "seconds running jobs get to finish when the bot is stopped",
        low=0,
        high=600,
    ),
    Setting(
        "USER_DAILY_LIMIT",
        "user_daily_limit",
        Kind.WHOLE,
        0,
        "pictures one member may make per UTC day (0: unlimited)",
        low=0,
        high=1_000_000,
    ),
    Setting(
        "GUILD_DAILY_LIMIT",
        "guild_daily_limit",
        Kind.WHOLE,
        0,
        "pictures one server may make per UTC day (0: unlimited)",
        low=0,
        high=1_000_000,
    ),
    Setting(
        "USER_COOLDOWN",
        "user_cooldown",
        Kind.SECONDS,
        0,
        "seconds between one member's commands",
        low=0,
        high=86400,
    ),
    Setting(
        "ADMIN_USERS",
        "admin_users",
        Kind.IDS,
        (),
        "members the limits, cooldown and allowed lists do not apply to",
    ),
    Setting(
        "ADMIN_ROLES",
        "admin_roles",
        Kind.IDS,
        (),
        "roles the limits, cooldown and allowed lists do not apply to",
    ),
    Setting(
        "ALLOWED_GUILDS",
        "allowed_guilds",
        Kind.IDS,
        (),
        "the only servers the bot may be used in (empty: all)",
    ),
    Setting(
        "ALLOWED_CHANNELS",
        "allowed_channels",
        Kind.IDS,
        (),
        "the only channels the bot may be used in (empty: all)",
    ),
    Setting(
        "ALLOWED_ROLES", "allowed_roles", Kind.IDS, (), "the only roles that may use the bot (empty: all)"
    ),
    Setting(
        "CURRENCY",
        "currency",
        Kind.TEXT,
        "USD",
        "the name of the unit prices and budgets are written in (a label; nothing is converted)",
    ),
    Setting(
        "PRICES",
        "prices",
        Kind.PRICES,
        (),
        "what a picture costs you, per model or model:quality/size: gemini-2.5-flash-image=0.039",
    ),
    Setting(
        "GUILD_MONTHLY_BUDGET",
        "guild_monthly_budget",
        Kind.AMOUNT,
        0,
        "what one server may spend per UTC month (0: no budget)",
        low=0,
        high=MAX_AMOUNT,
    ),
    Setting(
        "USER_DAILY_BUDGET",
        "user_daily_budget",
        Kind.AMOUNT,
        0,
        "what one member may spend per UTC day (0: no budget)",
        low=0,
        high=MAX_AMOUNT,
    ),
    Setting(
        "USER_MONTHLY_BUDGET",
        "user_monthly_budget",
        Kind.AMOUNT,
        0,
        "what one member may spend per UTC month (0: no budget)",
        low=0,
        high=MAX_AMOUNT,
    ),
    Setting(
        "ROLE_BUDGETS",
        "role_budgets",
        Kind.ROLE_AMOUNTS,
        (),
        "monthly budgets by role, roleid:amount; a member's largest replaces USER_MONTHLY_BUDGET",
    ),
    Setting(
        "BALANCE_CHECK_MINUTES",
        "balance_check_minutes",
        Kind.WHOLE,
        30,
        "minutes between two looks at the relay's remaining balance",
        low=1,
        high=1440,
    ),
    Setting(
        "QUOTA_PER_UNIT",
        "quota_per_unit",
        Kind.WHOLE,
        500000,
        "a new-api relay's quota units per unit of your currency",
        low=1,
        high=MAX_AMOUNT,
    ),
    Setting(
        "LOW_BALANCE",
        "low_balance",
        Kind.AMOUNT,
        0,
        "a relay balance under this is reported to the owner once (0: never)",
        low=0,
        high=MAX_AMOUNT,
    ),
    Setting(
        "OWNER_LOG_CHANNEL",
        "owner_log_channel",
        Kind.GUILD_ID,
        None,
        "a channel id where the bot tells the owner about balance, budgets, keys and models",
    ),
    Setting(
        "RESULT_RETENTION_HOURS",
        "result_retention_hours",
        Kind.HOURS,
        24,
        "hours result pictures stay under DATA_DIR/jobs/",
        low=0,
        high=8760,
    ),
    Setting(
        "DATA_DIR",
        "data_dir",
        Kind.PATH,
        "data",
        "where the bot keeps its files (queue, results, extra message catalogs)",
    ),
    Setting(
        "DATABASE_URL",
        "database_url",
        Kind.URL,
        None,
        "scaling out: a postgresql:// journal shared by all processes (unset: SQLite in DATA_DIR)",
        choices=("postgresql", "postgres"),
    ),
    Setting(
        "QUEUE_URL",
        "queue_url",
        Kind.URL,
        None,
        "scaling out: the queue of `gateway` and `worker` processes, redis:// or postgresql://",
        choices=("redis", "rediss", "postgresql", "postgres"),
    ),
    Setting(
        "WORKER_HEARTBEAT_SECONDS",
        "worker_heartbeat_seconds",
        Kind.SECONDS,
        10,
        "scaling out: a worker silent this long is taken for dead; its jobs go to another",
        low=2,
        high=300,
    ),
    Setting(
        "GLOBAL_MAX_CONCURRENT_JOBS",
        "global_max_concurrent_jobs",
        Kind.WHOLE,
        0,
        "scaling out: jobs running at once across all workers; 0: the sum of their MAX_CONCURRENT_JOBS",
        low=0,
        high=10000,
    ),
    Setting(
        "SHARD_COUNT",
        "shard_count",
        Kind.WHOLE,
        0,
        "gateway shards in all; 0 is one connection (bots in more than 2,500 servers must shard)",
        low=0,
        high=10000,
    ),
    Setting(
        "SHARD_IDS",
        "shard_ids",
        Kind.SHARDS,
        (),
        "the shards this process connects, e.g. 0,1 (needs SHARD_COUNT; unset: all of them)",
        custom=True,
    ),
)

_BY_NAME = {s.name: s for s in GENERAL}


def overrides_for(prefixes: Iterable[str]) -> tuple[Setting, ...]:
    """`<PREFIX>_BASE_URL` and `<PREFIX>_API_KEY` for each format prefix, each named once."""
    return tuple(
        setting
        for prefix in dict.fromkeys(prefixes)
        for setting in (
            Setting(
                f"{prefix}_BASE_URL",
                None,
                Kind.BASE_URL,
                "",
                f"API_BASE_URL for the {prefix} formats",
                custom=True,
            ),
            Setting(
                f"{prefix}_API_KEY", None, Kind.TEXT, "", f"API_KEY for the {prefix} formats", custom=True
            ),
        )
    )


def declared(prefixes: Iterable[str]) -> tuple[Setting, ...]:
    """Every setting, the per-format overrides for these prefixes included."""
    return (*GENERAL, *overrides_for(prefixes))


def default(name: str) -> Any:
    """The Settings field default for one variable: its declared default in the attribute's unit."""
    setting = _BY_NAME[name]
    if setting.kind in (Kind.LIMITS, Kind.PRICES, Kind.ROLE_AMOUNTS, Kind.NOTES):
        return field(default_factory=dict)
    return setting.attribute_value(setting.default)
