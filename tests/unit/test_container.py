"""The Dockerfile, compose.yaml (one process) and compose.scale.yaml (a gateway and workers on
PostgreSQL and Redis), checked without a Docker daemon: what the image copies exists, its commands are
the bot's, its extras are pyproject's, and the compose files' settings, volumes, health checks and
start order match the bot's settings and routes. (Nothing here builds the image or starts a service.)"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from bot.__main__ import _parse_args
from bot.config import SETTINGS
from bot.health import HEALTH_PATH
from tests.conftest import SOURCE_ROOT

DOCKERFILE = (SOURCE_ROOT / "Dockerfile").read_text()
COMPOSE = (SOURCE_ROOT / "compose.yaml").read_text()
SCALE = (SOURCE_ROOT / "compose.scale.yaml").read_text()
NAMES = {s.name for s in SETTINGS}
SPEC = {s.name: s for s in SETTINGS}
BOT_SERVICES = ("gateway", "worker")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def env() -> dict[str, str]:
    values: dict[str, str] = {}
    for word, rest in instructions():
        if word == "ENV":
            values |= dict(pair.split("=", 1) for pair in shlex.split(rest))
    return values


def one(word: str) -> str:
    (found,) = [rest for w, rest in instructions() if w == word]
    return found


def healthcheck_command() -> list[str]:
    rest = one("HEALTHCHECK")
    return json.loads(rest[rest.index("CMD") + 3 :].strip())


def services(text: str) -> dict[str, dict[str, Any]]:
    """A compose file's services, its anchors and merge keys resolved, `${VAR:?…}` left as written."""
    loaded = yaml.safe_load(text)
    return dict(loaded["services"])


def interpolated(value: str) -> str:
    """A compose value with each `${VAR…}` replaced by a stand-in, as compose would fill it from .env."""
    return re.sub(r"\$\{(\w+)[^}]*\}", lambda m: f"from-env-{m[1].lower()}", value)


def command_of(service: dict[str, Any]) -> list[str]:
    """What the container runs: the image's entry point and the service's command (else the image's)."""
    return [*json.loads(one("ENTRYPOINT")), *(service.get("command") or json.loads(one("CMD")))]


def seconds(duration: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(s|m)", duration).groups()  # type: ignore[union-attr]
    return int(number) * (60 if unit == "m" else 1)


def test_the_image_is_slim_and_runs_the_bot_as_a_non_root_user() -> None:
    assert re.fullmatch(r"python:3\.1[1-9]-slim", one("FROM"))
    assert one("USER") not in ("root", "0")
    # The command is an argument of `python -m bot`: `docker compose run --rm bananabot check` runs
    # the check, and compose.scale.yaml's services give `gateway` and `worker`.
    assert json.loads(one("ENTRYPOINT")) == ["python", "-m", "bot"]
    (command,) = json.loads(one("CMD"))
    assert _parse_args([command]).command == command == "run"


def test_the_image_installs_the_extras_every_role_needs() -> None:
    extras = tomllib.loads((SOURCE_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    (run,) = [rest for word, rest in instructions() if word == "RUN" and "pip install" in rest]
    (installed,) = re.findall(r"pip install '\.\[([\w,-]+)\]'", run)
    wanted = {"metrics", "postgres", "queue"}  # /metrics, DATABASE_URL, QUEUE_URL
    assert wanted <= set(installed.split(",")) <= set(extras), installed


def test_every_file_the_image_copies_exists() -> None:
    for word, rest in instructions():
        if word == "COPY":
            *sources, _ = rest.split()
            for source in sources:
                assert (SOURCE_ROOT / source).exists(), source


def test_data_dir_is_the_volume_and_health_is_served_where_the_check_asks() -> None:
    values = env()
    assert {"DATA_DIR", "HEALTH_HOST", "HEALTH_PORT"} <= values.keys() <= NAMES | {
        "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK",
    }  # fmt: skip
    assert json.loads(one("VOLUME")) == [values["DATA_DIR"]]
    assert values["HEALTH_HOST"] == "0.0.0.0"  # noqa: S104 - reachable from outside the container's loopback
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"]
    assert f"http://127.0.0.1:{values['HEALTH_PORT']}{HEALTH_PATH}" in command[2]
    assert one("EXPOSE") == values["HEALTH_PORT"]


def test_compose_uses_the_env_file_and_the_images_own_container_settings() -> None:
    values = env()
    for text, names in ((COMPOSE, ("bananabot",)), (SCALE, BOT_SERVICES)):
        found = services(text)
        for name in names:
            service = found[name]
            assert service["env_file"] == ".env" and service["build"] == ".", name
            environment = service["environment"]
            assert set(environment) <= NAMES, name
            for setting in ("DATA_DIR", "HEALTH_HOST", "HEALTH_PORT"):
                assert str(environment[setting]) == values[setting], (name, setting)
            assert f"bananabot-data:{values['DATA_DIR']}" in service["volumes"], name
            assert seconds(service["stop_grace_period"]) > SPEC["SHUTDOWN_GRACE"].default, name
    assert "bananabot-data" in yaml.safe_load(COMPOSE)["volumes"]


def test_the_one_process_compose_file_runs_the_bot_as_before() -> None:
    (service,) = services(COMPOSE).values()
    assert command_of(service) == ["python", "-m", "bot", "run"]
    assert not {"DATABASE_URL", "QUEUE_URL"} & set(service["environment"])


def test_the_scale_file_runs_postgres_redis_a_gateway_and_two_workers() -> None:
    found = services(SCALE)
    assert set(found) == {"postgres", "redis", "gateway", "worker"}
    for name in BOT_SERVICES:
        command = command_of(found[name])
        assert command == ["python", "-m", "bot", name]
        assert _parse_args(command[3:]).command == name
    assert found["worker"]["deploy"]["replicas"] == 2
    assert "deploy" not in found["gateway"], "one gateway holds the Discord connection"
    # No container_name: `--scale worker=N` needs compose to name each copy.
    assert not any("container_name" in service for service in found.values())


def test_the_bot_processes_point_at_the_services_database_and_queue() -> None:
    found = services(SCALE)
    postgres = found["postgres"]["environment"]
    for name in BOT_SERVICES:
        environment = found[name]["environment"]
        database = urlsplit(interpolated(environment["DATABASE_URL"]))
        assert database.scheme in SPEC["DATABASE_URL"].choices
        assert (database.hostname, database.port) == ("postgres", 5432)
        assert database.username == postgres["POSTGRES_USER"]
        assert database.path == f"/{postgres['POSTGRES_DB']}"
        # The bots' password and the server's are the same value from .env.
        assert (
            database.password == interpolated(postgres["POSTGRES_PASSWORD"]) == "from-env-postgres_password"
        )
        queue = urlsplit(environment["QUEUE_URL"])
        assert queue.scheme in SPEC["QUEUE_URL"].choices
        assert (queue.hostname, queue.port) == ("redis", 6379)


def test_gateway_and_workers_share_one_data_volume() -> None:
    # Results and members' pictures are files under DATA_DIR/jobs: a worker writes what the
    # gateway's buttons read.
    found = services(SCALE)
    mounts = {tuple(found[name]["volumes"]) for name in BOT_SERVICES}
    assert mounts == {(f"bananabot-data:{env()['DATA_DIR']}",)}
    assert set(yaml.safe_load(SCALE)["volumes"]) == {"bananabot-data", "postgres-data"}
    assert "postgres-data:/var/lib/postgresql/data" in found["postgres"]["volumes"]


@pytest.mark.parametrize("name", BOT_SERVICES)
def test_each_bot_process_has_the_images_health_check_and_waits_for_healthy_servers(name: str) -> None:
    service = services(SCALE)[name]
    test = service["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1:] == healthcheck_command()
    assert f"http://127.0.0.1:{service['environment']['HEALTH_PORT']}{HEALTH_PATH}" in test[3]
    assert service["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }


def test_postgres_and_redis_have_health_checks() -> None:
    found = services(SCALE)
    postgres = found["postgres"]
    user, database = postgres["environment"]["POSTGRES_USER"], postgres["environment"]["POSTGRES_DB"]
    assert postgres["healthcheck"]["test"] == ["CMD", "pg_isready", "-U", user, "-d", database]
    assert found["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_the_image_keeps_secrets_and_local_state_out() -> None:
    ignored = (SOURCE_ROOT / ".dockerignore").read_text().split()
    assert {".env", "data", ".venv"} <= set(ignored)
