from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, GeminiAuth, Settings
from tests.conftest import SOURCE_ROOT

TOKEN = "MTAw.fake.token-value"
GOOD = {"DISCORD_TOKEN": TOKEN, "API_KEY": "sk-abcdef123456"}


def load(env: dict[str, str], env_file: Path | None = None) -> Settings:
    return Settings.from_env(env, env_file or Path("/nonexistent/.env"))


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(env)
    return info.value.problems


def test_defaults() -> None:
    s = load(GOOD)
    assert s.api_base_url == "https://generativelanguage.googleapis.com"
    assert s.default_model == "gemini-2.5-flash-image"
    assert [(m.name, m.format) for m in s.models] == [("gemini-2.5-flash-image", "gemini")]
    assert s.gemini_auth is GeminiAuth.HEADER
    assert s.dev_guild_id is None
    assert s.log_level == "INFO"
    assert s.data_dir == Path("data")
    assert TOKEN not in repr(s) and "sk-abcdef123456" not in repr(s)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"API_KEY": "sk-abcdef123456"},
            "DISCORD_TOKEN is not set and there is no .env in /nonexistent: copy .env.example to .env",
        ),
        (
            {"DISCORD_TOKEN": TOKEN},
            "API_KEY is not set: put the key of your API relay (or your Gemini API key) in .env",
        ),
        ({**GOOD, "DISCORD_TOKEN": "Bot abc"}, "DISCORD_TOKEN must be the bare bot token"),
        ({**GOOD, "API_BASE_URL": "relay.example.com"}, "API_BASE_URL must be an http(s) URL"),
        ({**GOOD, "API_BASE_URL": "https://r.example.com/?key=1"}, "API_BASE_URL must not carry a query"),
        ({**GOOD, "MODELS": "my-model"}, "MODELS: cannot tell the format of 'my-model'"),
        ({**GOOD, "MODELS": "x=dalle"}, "MODELS: 'dalle' in 'x=dalle' is not a format"),
        ({**GOOD, "MODELS": "gemini-a,gemini-a"}, "MODELS: 'gemini-a' is listed twice"),
        ({**GOOD, "MODELS": "bad model"}, "MODELS: 'bad model' is not a model name"),
        (
            {**GOOD, "DEFAULT_MODEL": "house-special"},
            "DEFAULT_MODEL: cannot tell the format of 'house-special'",
        ),
        ({**GOOD, "GEMINI_AUTH": "cookie"}, "GEMINI_AUTH must be one of header, query, bearer, got 'cookie'"),
        ({**GOOD, "DEV_GUILD_ID": "my-server"}, "DEV_GUILD_ID must be a server id (15 to 21 digits)"),
        ({**GOOD, "LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ({**GOOD, "REQUEST_TIMEOUT": "soon"}, "REQUEST_TIMEOUT must be a number of seconds from 1 to 840"),
        ({**GOOD, "REQUEST_TIMEOUT": "3600"}, "REQUEST_TIMEOUT must be a number of seconds from 1 to 840"),
        ({**GOOD, "DISCORD_GATEWAY_URL": "http://x"}, "DISCORD_GATEWAY_URL must be a ws/wss URL"),
    ],
)
def test_each_problem_is_one_line_naming_the_variable(env: dict[str, str], expected: str) -> None:
    found = problems(env)
    assert len(found) == 1, found
    assert found[0].startswith(expected)
    assert "\n" not in found[0]


def test_all_problems_are_reported_at_once() -> None:
    found = problems({"LOG_LEVEL": "LOUD", "DEV_GUILD_ID": "x"})
    assert [p.split()[0] for p in found] == ["DISCORD_TOKEN", "API_KEY", "DEV_GUILD_ID", "LOG_LEVEL"]


def test_malformed_token_is_never_echoed() -> None:
    secret = "abc def-very-secret"
    assert all(
        secret not in p and "very-secret" not in p for p in problems({**GOOD, "DISCORD_TOKEN": secret})
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://relay.example.com/", "https://relay.example.com"),
        ("https://relay.example.com/v1", "https://relay.example.com"),
        ("https://relay.example.com/proxy/gemini", "https://relay.example.com/proxy/gemini"),
    ],
)
def test_base_url_is_normalised(url: str, expected: str) -> None:
    assert load({**GOOD, "API_BASE_URL": url}).api_base_url == expected


@pytest.mark.parametrize(
    ("url", "auth"),
    [
        ("https://generativelanguage.googleapis.com", GeminiAuth.HEADER),
        ("https://api.relay.example", GeminiAuth.BEARER),
    ],
)
def test_gemini_auth_defaults_by_host(url: str, auth: GeminiAuth) -> None:
    assert load({**GOOD, "API_BASE_URL": url}).gemini_auth is auth
    assert load({**GOOD, "API_BASE_URL": url, "GEMINI_AUTH": "Query"}).gemini_auth is GeminiAuth.QUERY


def test_settings_record_whether_gemini_auth_was_the_owners() -> None:
    assert load({**GOOD, "API_BASE_URL": "https://api.relay.example"}).gemini_auth_explicit is False
    assert load({**GOOD, "GEMINI_AUTH": "bearer"}).gemini_auth_explicit is True


def test_models_routing_and_default_model() -> None:
    s = load(
        {
            **GOOD,
            "MODELS": " gemini-3-pro-image-preview , house=gemini,gpt-image-1,sora_image, mj-fast=midjourney ,",
            "DEFAULT_MODEL": "gemini-2.5-flash-image",
        }
    )
    assert [(m.name, m.format) for m in s.models] == [
        ("gemini-2.5-flash-image", "gemini"),
        ("gemini-3-pro-image-preview", "gemini"),
        ("house", "gemini"),
        ("gpt-image-1", "openai-images"),
        ("sora_image", "openai-chat"),
        ("mj-fast", "midjourney"),
    ]
    assert s.route("house") is not None and s.route("nope") is None


def test_environment_wins_over_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DISCORD_TOKEN=from-file\nAPI_KEY=sk-file-key-123\nLOG_LEVEL=debug\n")
    s = load({"API_KEY": "sk-env-key-456"}, env_file)
    assert (s.discord_token, s.api_key, s.log_level) == ("from-file", "sk-env-key-456", "DEBUG")


def run_bot(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "SYSTEMROOT", "LANG")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**clean, "PYTHONPATH": str(SOURCE_ROOT), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_process_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    result = run_bot({"DEV_GUILD_ID": "abc"}, tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"DISCORD_TOKEN is not set and there is no .env in {tmp_path}: copy .env.example to .env and fill it in",
        "API_KEY is not set: put the key of your API relay (or your Gemini API key) in .env",
        "DEV_GUILD_ID must be a server id (15 to 21 digits), got 'abc'",
    ]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_process_reads_env_file_in_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DISCORD_TOKEN=tok-from-file\nLOG_LEVEL=verbose\n")
    result = run_bot({"API_KEY": "sk-abcdef123456", "LOG_LEVEL": "shouty"}, tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'SHOUTY'"
    ]


def test_process_reports_an_unusable_data_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_bot({**GOOD, "DATA_DIR": str(blocker / "sub")}, tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"DATA_DIR '{blocker / 'sub'}' cannot be created")


def test_env_example_is_a_valid_configuration_once_filled_in() -> None:
    example = Path(__file__).resolve().parents[2] / ".env.example"
    # Filled in means the base URL too: the relay's, or Google's.
    s = Settings.from_env({**GOOD, "API_BASE_URL": "https://generativelanguage.googleapis.com"}, example)
    assert s.api_base_url == "https://generativelanguage.googleapis.com"
    relay = Settings.from_env({**GOOD, "API_BASE_URL": "https://api.relay.test/v1"}, example)
    assert (relay.api_base_url, relay.gemini_auth) == ("https://api.relay.test", GeminiAuth.BEARER)
    assert [m.name for m in s.models] == [
        "gemini-2.5-flash-image",
        "gemini-3-pro-image-preview",
        "gemini-3.1-flash-image-preview",
    ]
    assert (s.gemini_auth, s.dev_guild_id, s.request_timeout) == (GeminiAuth.HEADER, None, 180.0)


def test_readme_and_ci_run_the_same_test_command() -> None:
    root = Path(__file__).resolve().parents[2]
    command = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest -q"
    assert command in (root / "README.md").read_text()
    assert command in (root / ".ci" / "run").read_text()


def test_per_format_overrides_fall_back_to_api_base_url_and_api_key() -> None:
    s = load(
        {
            **GOOD,
            "API_BASE_URL": "https://relay.example",
            "OPENAI_BASE_URL": "https://api.openai.com/v1",
            "OPENAI_API_KEY": "sk-openai-000000000",
            "MJ_API_KEY": "mj-secret-000000000",
        }
    )
    assert s.target("openai-images").base_url == "https://api.openai.com"
    assert s.target("openai-chat").api_key == "sk-openai-000000000"
    assert (s.target("midjourney").base_url, s.target("midjourney").api_key) == (
        "https://relay.example",
        "mj-secret-000000000",
    )
    assert (s.target("gemini").base_url, s.target("gemini").api_key) == (
        "https://relay.example",
        "sk-abcdef123456",
    )
    assert {"sk-openai-000000000", "mj-secret-000000000"} <= set(s.secrets)
    assert "000000000" not in repr(s), "keys stay out of repr"


def test_api_key_may_be_left_out_when_every_format_in_use_has_its_own() -> None:
    env = {"DISCORD_TOKEN": TOKEN, "MODELS": "gpt-image-1,midjourney", "DEFAULT_MODEL": "gpt-image-1"}
    assert problems(env) == [
        "API_KEY is not set: put the key of your API relay (or your Gemini API key) in .env"
    ]
    s = load({**env, "OPENAI_API_KEY": "sk-openai-000000000", "MJ_API_KEY": "mj-secret-000000000"})
    assert s.api_key == ""


def test_gemini_auth_default_follows_the_gemini_override() -> None:
    s = load(
        {
            **GOOD,
            "API_BASE_URL": "https://relay.example",
            "GEMINI_BASE_URL": "https://generativelanguage.googleapis.com",
        }
    )
    assert s.gemini_auth is GeminiAuth.HEADER


def test_relays_are_read_with_their_keys_overrides_and_models() -> None:
    s = load(
        {
            **GOOD,
            "API_BASE_URL": "https://relay.example",
            "RELAYS": "Backup, google",
            "RELAY_BACKUP_BASE_URL": "https://backup.example/v1",
            "RELAY_BACKUP_API_KEY": "sk-backup-000000001",
            "RELAY_BACKUP_MJ_BASE_URL": "https://mj.backup.example",
            "RELAY_GOOGLE_BASE_URL": "https://generativelanguage.googleapis.com",
            "RELAY_GOOGLE_API_KEY": "AIza-google-000000002",
            "MODELS": "gemini-2.5-flash-image@main+backup+google,midjourney@backup+main,gpt-image-1",
            "BREAKER_FAILURES": "3",
            "BREAKER_SECONDS": "120",
        }
    )
    assert [r.name for r in s.relays] == ["main", "backup", "google"]
    assert [m.relays for m in s.models] == [("main", "backup", "google"), ("backup", "main"), ("main",)]
    assert s.target("gemini", "backup") == s.relay("backup").target("gemini")
    assert (s.target("gemini", "backup").base_url, s.target("gemini", "backup").api_key) == (
        "https://backup.example",
        "sk-backup-000000001",
    )
    assert s.target("midjourney", "backup").base_url == "https://mj.backup.example"
    assert s.target("midjourney", "backup").api_key == "sk-backup-000000001"
    # Each relay's Gemini key goes the way its host expects, unless GEMINI_AUTH says otherwise.
    assert [r.gemini_auth for r in s.relays] == [GeminiAuth.BEARER, GeminiAuth.BEARER, GeminiAuth.HEADER]
    assert {"sk-backup-000000001", "AIza-google-000000002"} <= set(s.secrets)
    assert "00000000" not in repr(s)
    assert (s.breaker_failures, s.breaker_seconds) == (3, 120.0)


def test_api_key_may_be_left_out_when_no_model_uses_main() -> None:
    env = {
        "DISCORD_TOKEN": TOKEN,
        "RELAYS": "backup",
        "RELAY_BACKUP_BASE_URL": "https://backup.example",
        "RELAY_BACKUP_API_KEY": "sk-backup-000000001",
        "MODELS": "gpt-image-1@backup",
        "DEFAULT_MODEL": "gpt-image-1@backup",
    }
    assert load(env).api_key == ""


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"RELAYS": "backup"},
            [
                "RELAY_BACKUP_BASE_URL is not set: RELAYS names the relay 'backup'",
                "RELAY_BACKUP_API_KEY is not set: put the key of the relay 'backup' there",
            ],
        ),
        (
            {"RELAYS": "main"},
            [
                "RELAYS: 'main' is not a new relay name (a letter, then letters, digits or _; "
                "'main' is API_BASE_URL's, and each name once)"
            ],
        ),
        (
            {"MODELS": "gpt-image-1@main+spare"},
            ["MODELS: 'gpt-image-1' names the relay 'spare', which RELAYS does not list (relays: main)"],
        ),
        (
            {"RELAYS": "b", "RELAY_B_BASE_URL": "ftp://b.example", "RELAY_B_API_KEY": "k"},
            [
                "RELAY_B_BASE_URL must be an http(s) URL such as https://api.example.com, got 'ftp://b.example'"
            ],
        ),
    ],
)
def test_relay_settings_problems(env: dict[str, str], expected: list[str]) -> None:
    assert problems({**GOOD, **env}) == expected


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"MJ_BASE_URL": "relay.example"}, "MJ_BASE_URL must be an http(s) URL"),
        ({"OPENAI_BASE_URL": "https://x.example/v1?key=abc"}, "OPENAI_BASE_URL must not carry a query"),
        ({"MJ_POLL_SECONDS": "0"}, "MJ_POLL_SECONDS must be a number of seconds from 0.05 to 60"),
        ({"MJ_TIMEOUT": "forever"}, "MJ_TIMEOUT must be a number of seconds from 10 to 3600"),
        ({"MAX_INPUT_MB": "0"}, "MAX_INPUT_MB must be a number of megabytes from 1 to 500, got '0'"),
        (
            {"INPUT_MAX_SIDE": "huge"},
            "INPUT_MAX_SIDE must be a number of pixels from 256 to 8192, got 'huge'",
        ),
        ({"MODELS": "sdxl"}, "MODELS: cannot tell the format of 'sdxl' from its name; write it as sdxl="),
        ({"MODELS": "sdxl=comfy"}, "MODELS: 'comfy' in 'sdxl=comfy' is not a format"),
    ],
)
def test_format_settings_problems(env: dict[str, str], expected: str) -> None:
    (found,) = problems({**GOOD, **env})
    assert found.startswith(expected)


def test_picture_settings() -> None:
    s = load({**GOOD, "MAX_INPUT_MB": "8", "INPUT_MAX_SIDE": "1536"})
    assert (s.max_input_bytes, s.input_max_side) == (8 * 1024 * 1024, 1536)
    assert (load(GOOD).max_input_bytes, load(GOOD).input_max_side) == (25 * 1024 * 1024, 2048)


def test_job_engine_settings_defaults() -> None:
    s = load(GOOD)
    assert (s.max_concurrent_jobs, s.max_jobs_per_user, s.max_queue_length) == (4, 3, 50)
    assert (s.job_timeout, s.mj_timeout, s.shutdown_grace) == (300.0, 600.0, 30.0)
    assert (s.user_daily_limit, s.guild_daily_limit, s.user_cooldown) == (0, 0, 0.0)
    assert s.concurrency_limits == {} and s.result_retention_hours == 24.0
    assert not (s.admin_users or s.admin_roles or s.allowed_guilds or s.allowed_channels or s.allowed_roles)


def test_job_engine_settings_are_read() -> None:
    s = load(
        GOOD
        | {
            "MAX_CONCURRENT_JOBS": "8",
            "MAX_JOBS_PER_USER": "5",
            "MAX_QUEUE_LENGTH": "200",
            "CONCURRENCY_LIMITS": "midjourney=2, gpt-image-1=1",
            "JOB_TIMEOUT": "120",
            "SHUTDOWN_GRACE": "0",
            "USER_DAILY_LIMIT": "20",
            "GUILD_DAILY_LIMIT": "500",
            "USER_COOLDOWN": "15",
            "ADMIN_USERS": "100000000000000002",
            "ADMIN_ROLES": "100000000000000010, 100000000000000011",
            "ALLOWED_GUILDS": "100000000000000003",
            "ALLOWED_CHANNELS": "100000000000000004",
            "ALLOWED_ROLES": "100000000000000012",
            "RESULT_RETENTION_HOURS": "72",
        }
    )
    assert (s.max_concurrent_jobs, s.max_jobs_per_user, s.max_queue_length) == (8, 5, 200)
    assert s.concurrency_limits == {"midjourney": 2, "gpt-image-1": 1}
    assert (s.job_timeout, s.shutdown_grace, s.user_cooldown) == (120.0, 0.0, 15.0)
    assert (s.user_daily_limit, s.guild_daily_limit) == (20, 500)
    assert s.admin_users == {100000000000000002}
    assert s.admin_roles == {100000000000000010, 100000000000000011}
    assert s.allowed_guilds == {100000000000000003} and s.allowed_channels == {100000000000000004}
    assert s.allowed_roles == {100000000000000012} and s.result_retention_hours == 72.0


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"MAX_CONCURRENT_JOBS": "0"}, "MAX_CONCURRENT_JOBS must be a whole number from 1 to 64, got '0'"),
        (
            {"MAX_CONCURRENT_JOBS": "2.5"},
            "MAX_CONCURRENT_JOBS must be a whole number from 1 to 64, got '2.5'",
        ),
        ({"USER_DAILY_LIMIT": "-1"}, "USER_DAILY_LIMIT must be a whole number from 0 to 1000000, got '-1'"),
        ({"JOB_TIMEOUT": "1"}, "JOB_TIMEOUT must be a number of seconds from 5 to 3600, got '1'"),
        (
            {"ALLOWED_GUILDS": "123, my-server"},
            "ALLOWED_GUILDS must be Discord ids (15 to 21 digits) separated by commas, got '123'",
        ),
        (
            {"CONCURRENCY_LIMITS": "midjourney"},
            "CONCURRENCY_LIMITS entries must look like midjourney=2 or gpt-image-1=1, got 'midjourney'",
        ),
        (
            {"CONCURRENCY_LIMITS": "gemini=0"},
            "CONCURRENCY_LIMITS entries must look like midjourney=2 or gpt-image-1=1, got 'gemini=0'",
        ),
    ],
)
def test_job_engine_settings_problems(env: dict[str, str], expected: str) -> None:
    assert problems(GOOD | env) == [expected]


def test_process_names_a_data_dir_whose_database_is_a_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "bananabot.db").mkdir(parents=True)
    result = run_bot({**GOOD, "DATA_DIR": str(data)}, tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"DATA_DIR '{data}': {data / 'bananabot.db'} is not a file: move it away,"
        " or point DATA_DIR at another folder"
    ]


def test_process_names_a_data_dir_on_a_full_disk(tmp_path: Path) -> None:
    # A file size limit of 0 makes every write fail as a full disk does (EFBIG; Python ignores SIGXFSZ).
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "SYSTEMROOT", "LANG")}
    data = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        env={**clean, "PYTHONPATH": str(SOURCE_ROOT), **GOOD, "DATA_DIR": str(data)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0)),
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"DATA_DIR '{data}' has no room left (File too large): free some disk space,"
        " or point DATA_DIR at another disk"
    ]


def test_process_names_a_database_that_is_not_one(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "bananabot.db").write_bytes(b"this is not a database" * 100)
    result = run_bot({**GOOD, "DATA_DIR": str(data)}, tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"DATA_DIR '{data}': its database {data / 'bananabot.db'} cannot be opened (")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("https://relay.example.com/v1/chat/completions", "https://relay.example.com"),
        ("https://relay.example.com/v1beta", "https://relay.example.com"),
        ("https://relay.example.com/v1beta/models", "https://relay.example.com"),
        ("https://relay.example.com/proxy/v1/images/generations", "https://relay.example.com/proxy"),
    ],
)
def test_a_pasted_endpoint_is_refused_with_the_base_to_use(url: str, base: str) -> None:
    (problem,) = problems({**GOOD, "API_BASE_URL": url})
    assert problem.startswith("API_BASE_URL is an endpoint, not a base URL: the bot adds '/v1")
    assert problem.endswith(f"set API_BASE_URL={base}")


def test_the_token_message_says_whether_env_is_missing_or_the_value_is_empty(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DISCORD_TOKEN=\nAPI_KEY=sk-file-key-123\n")
    (empty,) = _problems_with(env_file)
    assert empty.startswith(f"DISCORD_TOKEN is empty in {env_file}: paste the bot token")
    env_file.write_text("API_KEY=sk-file-key-123\n")
    (absent,) = _problems_with(env_file)
    assert absent == f"DISCORD_TOKEN is missing from {env_file}: add a line DISCORD_TOKEN=<your bot token>"


def _problems_with(env_file: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({}, env_file)
    return info.value.problems


def test_sync_and_the_command_line_need_only_what_they_use() -> None:
    assert Settings.from_env({"DISCORD_TOKEN": TOKEN}, Path("/nonexistent/.env"), needs_api=False)
    assert Settings.from_env({"API_KEY": "sk-abcdef123456"}, Path("/nonexistent/.env"), needs_token=False)


def test_a_close_typo_in_env_is_named_with_the_setting_it_looks_like(tmp_path: Path) -> None:
    from bot.config import SETTINGS
    from bot.settings_hints import unknown_keys

    keys = ["MAX_CONCURENT_JOBS", "DISCORD_TOKEN", "API_KEYS", "EDITOR", "lowercase_thing"]
    assert unknown_keys(keys, [s.name for s in SETTINGS]) == [
        "MAX_CONCURENT_JOBS in .env is not a bananabot setting: did you mean MAX_CONCURRENT_JOBS?",
        "API_KEYS in .env is not a bananabot setting: did you mean API_KEY?",
    ]


def test_the_example_base_url_must_be_replaced() -> None:
    (problem,) = problems({**GOOD, "API_BASE_URL": "https://api.your-relay.example"})
    assert problem == (
        "API_BASE_URL is still the example from .env.example: set your relay's base URL, "
        "or https://generativelanguage.googleapis.com for Google's Gemini API"
    )


def test_env_example_points_nobody_at_google_by_default() -> None:
    example = (SOURCE_ROOT / ".env.example").read_text()
    assert "\nAPI_BASE_URL=https://api.your-relay.example\n" in example
    assert "googleapis.com" in example  # shown, as the other choice


def test_model_notes_and_default_locale() -> None:
    s = load(GOOD)
    assert s.model_notes == {} and s.default_locale == "en-US"
    s = load(
        GOOD
        | {
            "MODEL_NOTES": "gemini-2.5-flash-image=quick edits, photos ; midjourney = artistic styles;",
            "DEFAULT_LOCALE": "zh-CN",
        }
    )
    assert s.model_notes == {"gemini-2.5-flash-image": "quick edits, photos", "midjourney": "artistic styles"}
    assert s.default_locale == "zh-CN"
    assert problems(GOOD | {"MODEL_NOTES": "midjourney"}) == [
        "MODEL_NOTES entries must look like model=what it is good at, got 'midjourney'"
    ]
