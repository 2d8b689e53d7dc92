"""The declarations in bot/settings_spec.py against what is derived from them and what documents them."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from bot.config import FORMAT_PREFIXES, SETTINGS, ConfigError, Settings
from bot.settings_parse import Parser, shown
from bot.settings_spec import NUMBER_KINDS, Kind, Setting, overrides_for

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"DISCORD_TOKEN": "MTAw.fake.token-value", "API_KEY": "sk-abcdef123456"}
NUMBERS = [s for s in SETTINGS if s.kind in NUMBER_KINDS]
FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def field_default(name: str) -> Any:
    f = FIELDS[name]
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def test_names_and_attributes_are_declared_once() -> None:
    names = [s.name for s in SETTINGS]
    attrs = [s.attr for s in SETTINGS if s.attr]
    assert len(names) == len(set(names)) and len(attrs) == len(set(attrs))
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*", n) for n in names)
    # Every field is a declared setting, but the overrides map the per-format settings fill and
    # whether GEMINI_AUTH was set at all.
    assert set(FIELDS) == {*attrs, "overrides", "gemini_auth_explicit", "extra_relays"}


def test_settings_field_defaults_are_the_declared_ones() -> None:
    for s in SETTINGS:
        if s.attr in ("discord_token", "api_key"):
            # Callers always pass these two, so the fields keep no default.
            assert FIELDS[s.attr].default is dataclasses.MISSING
        elif s.attr:
            assert field_default(s.attr) == s.attribute_value(s.default), s.name


def test_reading_an_empty_environment_gives_the_field_defaults() -> None:
    read = Settings.from_env(GOOD, Path("/nonexistent/.env"))
    for s in SETTINGS:
        if s.attr and s.attr not in ("discord_token", "api_key", "models"):
            assert getattr(read, s.attr) == field_default(s.attr), s.name


def test_every_setting_has_a_one_line_help() -> None:
    for s in SETTINGS:
        assert s.help.strip() and "\n" not in s.help and len(s.help) <= 100, s.name


def test_numbers_have_a_range_around_their_default() -> None:
    for s in NUMBERS:
        assert s.low is not None and s.high is not None, s.name
        assert s.low <= s.default <= s.high, s.name


@pytest.mark.parametrize("setting", NUMBERS, ids=lambda s: s.name)
def test_the_declared_range_is_what_is_enforced(setting: Setting) -> None:
    assert setting.low is not None and setting.high is not None
    for edge in (setting.low, setting.high):
        parser = Parser({setting.name: shown(edge)})
        assert parser.read(setting) == setting.attribute_value(edge) and not parser.problems
    parser = Parser({setting.name: shown(setting.high + 1)})
    assert parser.read(setting) == setting.attribute_value(setting.default)
    assert parser.problems == [
        f"{setting.name} must be {setting.kind.value} from {shown(setting.low)} to {shown(setting.high)}, "
        f"got '{shown(setting.high + 1)}'"
    ]


def test_a_range_message_comes_from_the_declaration() -> None:
    tries = Setting("TRIES", "tries", Kind.WHOLE, 3, "how often", low=2, high=9)
    parser = Parser({"TRIES": "12"})
    assert parser.read(tries) == 3
    assert parser.problems == ["TRIES must be a whole number from 2 to 9, got '12'"]
    wait = Setting("WAIT", "wait", Kind.SECONDS, 1.5, "how long", low=0.25, high=7.5)
    parser = Parser({"WAIT": "8"})
    parser.read(wait)
    assert parser.problems == ["WAIT must be a number of seconds from 0.25 to 7.5, got '8'"]


def test_large_bounds_are_written_out() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({**GOOD, "USER_DAILY_LIMIT": "2000000"}, Path("/nonexistent/.env"))
    assert str(info.value) == "USER_DAILY_LIMIT must be a whole number from 0 to 1000000, got '2000000'"


def test_overrides_are_declared_from_the_prefixes() -> None:
    assert [s.name for s in overrides_for(["MJ", "OPENAI", "MJ"])] == [
        "MJ_BASE_URL",
        "MJ_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
    ]
    names = {s.name for s in SETTINGS}
    for prefix in FORMAT_PREFIXES.values():
        assert {f"{prefix}_BASE_URL", f"{prefix}_API_KEY"} <= names


def test_env_example_names_exactly_the_declared_settings() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    written = {m[1] for line in lines if (m := re.match(r"#?\s*([A-Z][A-Z0-9_]*)=", line))}
    declared = {s.name for s in SETTINGS}
    assert declared - written == set(), "declared but missing from .env.example"
    assert written - declared == set(), "in .env.example but not declared"


def readme_rows() -> dict[str, list[str]]:
    """The Configuration table of README.md: each variable named in a row, with that row's cells."""
    section = (ROOT / "README.md").read_text().split("\n## Configuration", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 3:
            for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[0]):
                rows[name] = cells
    return rows


def test_readme_configuration_table_lists_every_setting() -> None:
    assert {s.name for s in SETTINGS} - set(readme_rows()) == set()


@pytest.mark.parametrize("setting", NUMBERS, ids=lambda s: s.name)
def test_readme_states_the_declared_default_and_range(setting: Setting) -> None:
    _, default, what = readme_rows()[setting.name][:3]
    assert default == f"`{shown(setting.default)}`"
    stated = re.search(r"\(([\d.]+) to ([\d.]+)\)", what)
    if stated:
        assert stated.groups() == (shown(setting.low or 0), shown(setting.high or 0))


SAMPLES = {
    Kind.TEXT: "gemini-3-pro-image-preview",
    Kind.PATH: "elsewhere",
    Kind.BASE_URL: "https://relay.example",
    Kind.GUILD_ID: "100000000000000001",
    Kind.IDS: "100000000000000002",
    Kind.LIMITS: "midjourney=2",
    Kind.NOTES: "midjourney=artistic styles",
    Kind.CHAT_MODEL: "gpt-4o-mini",
    Kind.MODELS: "gpt-image-1",
    Kind.SWITCH: "1",
    Kind.RELAYS: "backup",
    Kind.PRICES: "gpt-image-1=0.05",
    Kind.ROLE_AMOUNTS: "100000000000000003:5",
    Kind.SHARDS: "1,0",
}


def sample(s: Setting) -> str:
    """A valid value other than the default."""
    if s.kind in NUMBER_KINDS:
        return shown(s.high if s.high != s.default else s.low)  # type: ignore[arg-type]
    if s.kind in (Kind.CHOICE, Kind.URL):
        value = next(c for c in s.choices if c != s.default)
        return f"{value}://proxy.example" if s.kind is Kind.URL else value
    return SAMPLES[s.kind]


def test_every_declared_setting_is_read() -> None:
    backup = {"RELAY_BACKUP_BASE_URL": "https://backup.example", "RELAY_BACKUP_API_KEY": "sk-backup-1"}
    read = Settings.from_env({**{s.name: sample(s) for s in SETTINGS}, **backup}, Path("/nonexistent/.env"))
    for s in SETTINGS:
        if s.attr:
            assert getattr(read, s.attr) != field_default(s.attr), s.name
    assert set(read.overrides) == set(FORMAT_PREFIXES.values())
    assert all(t.base_url and t.api_key for t in read.overrides.values())
    assert [(r.name, r.base_url, r.api_key) for r in read.extra_relays] == [
        ("backup", "https://backup.example", "sk-backup-1")
    ]


def test_shard_ids_are_numbers_under_the_shard_count() -> None:
    base = {"DISCORD_TOKEN": "t0k3n.value", "API_KEY": "sk-abcdef123456"}
    read = Settings.from_env({**base, "SHARD_COUNT": "4", "SHARD_IDS": "3, 1,1"}, Path("/x"))
    assert (read.shard_count, read.shard_ids) == (4, (1, 3))
    for ids, count, problem in (
        ("0", "", "SHARD_IDS needs SHARD_COUNT: how many shards there are in all"),
        ("0,4", "4", "SHARD_IDS must be shard numbers from 0 to 3 (SHARD_COUNT is 4), got '4'"),
        ("one", "2", "SHARD_IDS must be shard numbers from 0 to 1 (SHARD_COUNT is 2), got 'one'"),
    ):
        with pytest.raises(ConfigError) as refused:
            Settings.from_env({**base, "SHARD_COUNT": count, "SHARD_IDS": ids}, Path("/x"))
        assert refused.value.problems == [problem]


def test_the_queue_url_password_is_a_secret() -> None:
    base = {"DISCORD_TOKEN": "t0k3n.value", "API_KEY": "sk-abcdef123456"}
    read = Settings.from_env({**base, "QUEUE_URL": "redis://:s3cr%40t@cache:6379/0"}, Path("/x"))
    assert {"s3cr%40t", "s3cr@t"} <= set(read.secrets)
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({**base, "QUEUE_URL": "amqp://guest:pw@mq/"}, Path("/x"))
    assert refused.value.problems == [
        "QUEUE_URL must be a redis/rediss/postgresql/postgres URL, got 'amqp://guest:***@mq/'"
    ]


def test_a_switch_takes_0_or_1_and_says_so_otherwise() -> None:
    base = {"DISCORD_TOKEN": "t0k3n.value", "API_KEY": "sk-abcdef123456"}
    assert Settings.from_env({**base, "ALLOW_PRIVATE_RESULT_URLS": "1"}, Path("/x")).allow_private_result_urls
    assert not Settings.from_env(
        {**base, "ALLOW_PRIVATE_RESULT_URLS": "no"}, Path("/x")
    ).allow_private_result_urls
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({**base, "ALLOW_PRIVATE_RESULT_URLS": "maybe"}, Path("/x"))
    assert refused.value.problems == ["ALLOW_PRIVATE_RESULT_URLS must be 0 or 1, got 'maybe'"]
