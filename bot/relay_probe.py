"""What `check` and the start-up hints ask the image API, with calls that cost nothing: the model
list (the relay's `/v1/models`, or Google's own `/v1beta/models`) and, for Gemini through a relay,
which way of sending the key it takes (its model list, else `:countTokens`). Never a generation.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from bot.checklist import Finding, fail, ok, warn
from bot.config import Settings
from bot.errors import UpstreamError
from bot.http import HttpClient
from bot.providers.gemini import GeminiAuth
from bot.providers.registry import model_list_format, task_format
from bot.routing import MAIN_RELAY

PROBE_TIMEOUT = 5.0
_REFUSED = (401, 403)
_NO_ENDPOINT = (404, 405)


def is_google(base_url: str) -> bool:
    return (urlsplit(base_url).hostname or "").endswith("googleapis.com")


def gemini_auth(auth: GeminiAuth, key: str, url: str) -> tuple[str, dict[str, str]]:
    """The URL and headers for one way of sending a Gemini key (as the adapter sends it)."""
    if auth is GeminiAuth.HEADER:
        return url, {"x-goog-api-key": key}
    if auth is GeminiAuth.BEARER:
        return url, {"Authorization": f"Bearer {key}"}
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}key={quote(key, safe='')}", {}


@dataclass(frozen=True)
class ModelList:
    """The models the API lists (None: it has no list, or could not be asked) and what was found."""

    names: tuple[str, ...] | None
    finding: Finding
    key_refused: bool = False


async def model_list(settings: Settings, http: HttpClient, relay: str = MAIN_RELAY) -> ModelList:
    target = settings.target(model_list_format(), relay)
    base = target.base_url
    key_setting = "API_KEY" if relay == MAIN_RELAY else f"RELAY_{relay.upper()}_API_KEY"
    url_setting = "API_BASE_URL" if relay == MAIN_RELAY else f"RELAY_{relay.upper()}_BASE_URL"
    if is_google(base):
        where = "Google's Gemini API"
        url, headers = gemini_auth(GeminiAuth.HEADER, target.api_key, f"{base}/v1beta/models?pageSize=1000")
    else:
        where = f"the relay at {base}" if relay == MAIN_RELAY else f"the relay {relay} at {base}"
        url, headers = f"{base}/v1/models", {"Authorization": f"Bearer {target.api_key}"}
    try:
        response = await http.request("GET", url, headers=headers, timeout=PROBE_TIMEOUT)
        data = response.json()
    except UpstreamError as exc:
        if exc.status in _REFUSED:
            return ModelList(
                None,
                fail(
                    f"{where} refused the key (HTTP {exc.status})",
                    f"check {key_setting} (copy it again from the relay)",
                ),
                key_refused=True,
            )
        if exc.status in _NO_ENDPOINT:
            return ModelList(
                None, warn(f"{where} answers but has no model list, so the key cannot be tested for free")
            )
        return ModelList(
            None, fail(f"{where} cannot be reached ({type(exc).__name__})", f"check {url_setting}")
        )
    if is_google(base):
        items = data.get("models") if isinstance(data, dict) else None
        names = [str(i.get("name", "")).removeprefix("models/") for i in items or [] if isinstance(i, dict)]
    else:
        items = data.get("data") if isinstance(data, dict) else None
        names = [str(i.get("id")) for i in items or [] if isinstance(i, dict) and i.get("id")]
    return ModelList(
        tuple(n for n in names if n), ok(f"{where} accepts the key and lists {len(names)} models")
    )


def model_findings(settings: Settings, listed: ModelList) -> list[Finding]:
    """Whether each model in MODELS is offered where its requests go."""
    list_base = settings.target(model_list_format()).base_url
    findings = []
    for route in settings.models:
        if route.format == task_format():
            findings.append(
                warn(f"{route.name}: cannot tell ({route.format} is a task API without a model list)")
            )
        elif settings.target(route.format).base_url != list_base:
            findings.append(warn(f"{route.name}: cannot tell (its format goes to another base URL)"))
        elif listed.names is None:
            findings.append(warn(f"{route.name}: cannot tell (no model list)"))
        elif route.name in listed.names:
            findings.append(ok(f"{route.name} is offered"))
        else:
            findings.append(
                fail(
                    f"{route.name} is not in the model list",
                    "check its exact spelling in the relay's list, or remove it from MODELS",
                )
            )
    return findings


async def _accepts(http: HttpClient, auth: GeminiAuth, key: str, url: str, body: object) -> int:
    """The status one free call answers with when the key is sent this way (0: no answer)."""
    url, headers = gemini_auth(auth, key, url)
    try:
        if body is None:
            response = await http.request("GET", url, headers=headers, timeout=PROBE_TIMEOUT)
        else:
            response = await http.request("POST", url, headers=headers, json_body=body, timeout=PROBE_TIMEOUT)
    except UpstreamError as exc:
        return exc.status or 0
    return response.status


async def gemini_auth_findings(settings: Settings, http: HttpClient) -> list[Finding]:
    """Which of header, query and bearer the Gemini format's API takes, against GEMINI_AUTH."""
    models = [r.name for r in settings.models if r.format == "gemini"]
    if not models:
        return []
    target = settings.target("gemini")
    ways = tuple(GeminiAuth)

    async def probe(url: str, body: object) -> dict[GeminiAuth, int]:
        statuses = await asyncio.gather(*(_accepts(http, w, target.api_key, url, body) for w in ways))
        return dict(zip(ways, statuses, strict=True))

    statuses = await probe(f"{target.base_url}/v1beta/models", None)
    if all(s in _NO_ENDPOINT for s in statuses.values()):
        body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
        statuses = await probe(
            f"{target.base_url}/v1beta/models/{quote(models[0], safe='')}:countTokens", body
        )
    accepted = [w for w, s in statuses.items() if 200 <= s < 300]
    configured = settings.gemini_auth
    if configured in accepted:
        return [ok(f"Gemini: the key is accepted as GEMINI_AUTH={configured}")]
    if accepted:
        return [
            fail(
                f"Gemini: the key is refused as GEMINI_AUTH={configured} but accepted as {accepted[0]}",
                f"set GEMINI_AUTH={accepted[0]}",
            )
        ]
    if all(s in _REFUSED for s in statuses.values()):
        return [fail("Gemini: the key is refused in every way (header, query, bearer)", "check API_KEY")]
    shown = ", ".join(f"{w} {s or 'no answer'}" for w, s in statuses.items())
    return [warn(f"Gemini: cannot tell which GEMINI_AUTH the API takes ({shown})")]
