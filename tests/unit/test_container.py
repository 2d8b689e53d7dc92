"""The Dockerfile and compose.yaml, checked without a Docker daemon: what the image copies exists,
its command and health check match the bot's settings and routes. (Nothing here builds the image.)"""

from __future__ import annotations

import json
import re
import shlex

from bot.config import SETTINGS
from bot.health import HEALTH_PATH
from tests.conftest import SOURCE_ROOT

DOCKERFILE = (SOURCE_ROOT / "Dockerfile").read_text()
COMPOSE = (SOURCE_ROOT / "compose.yaml").read_text()
NAMES = {s.name for s in SETTINGS}


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


def test_the_image_is_slim_and_runs_the_bot_as_a_non_root_user() -> None:
    assert re.fullmatch(r"python:3\.1[1-9]-slim", one("FROM"))
    assert one("USER") not in ("root", "0")
    assert json.loads(one("CMD")) == ["python", "-m", "bot"]


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
    assert re.search(r"^\s+env_file: \.env$", COMPOSE, re.M)
    assert re.search(r"^\s+build: \.$", COMPOSE, re.M)
    values = env()
    for name in ("DATA_DIR", "HEALTH_HOST", "HEALTH_PORT"):
        (written,) = re.findall(rf"^\s+{name}: \"?([^\"\n]+)\"?$", COMPOSE, re.M)
        assert written == values[name], name
    assert re.search(rf"^\s+- bananabot-data:{values['DATA_DIR']}$", COMPOSE, re.M)


def test_the_image_keeps_secrets_and_local_state_out() -> None:
    ignored = (SOURCE_ROOT / ".dockerignore").read_text().split()
    assert {".env", "data", ".venv"} <= set(ignored)
