"""PROMPT_TRANSLATE_MODEL: a prompt for a model that reads English best is translated first.

Off unless the owner names a chat model (any model the relay serves through chat completions; it
need not be in MODELS). Only prompts with letters outside ASCII are sent (Chinese, Japanese,
Russian, accented Latin …): an ASCII prompt is taken as English. Midjourney's own `--parameters` at
the end stay as they are. A failed translation never fails the job: the original prompt is used,
with a note on the card.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.errors import UpstreamError
from bot.http import HttpClient
from bot.request import Note

log = logging.getLogger(__name__)

CHAT_FORMAT = "openai-chat"
# A translation is a short call; it must leave the picture most of the job's time.
TIMEOUT = 60.0
MAX_ANSWER_CHARS = 6000
INSTRUCTION = (
    "Translate the user's image prompt into natural English for an image model. Keep names, "
    "numbers, styles and every detail; add nothing. Answer with the translated prompt only."
)
# Midjourney's parameters: from the first ` --word` to the end (`--ar 16:9 --v 7 --no text`).
_PARAMETERS = re.compile(r"\s--[a-z].*\Z", re.DOTALL | re.IGNORECASE)


def needs_translation(prompt: str) -> bool:
    """Whether a prompt has letters outside ASCII (the sign it is not English)."""
    return any(ch.isalpha() and not ch.isascii() for ch in prompt)


@dataclass(frozen=True)
class Translation:
    prompt: str  # what goes to the image model
    english: str = ""  # the translated prompt, shown on the card; empty when nothing was translated
    note: Note | None = None  # why the original prompt went, when the translation failed


class PromptTranslator:
    def __init__(self, model: str, base_url: str, api_key: str, http: HttpClient) -> None:
        self.model = model
        self.base_url = base_url
        self.api_key = api_key
        self.http = http

    @classmethod
    def from_settings(cls, settings: Settings, http: HttpClient) -> PromptTranslator | None:
        if not settings.prompt_translate_model:
            return None
        target = settings.target(CHAT_FORMAT)
        return cls(settings.prompt_translate_model, target.base_url, target.api_key, http)

    async def english(self, prompt: str) -> Translation:
        if not needs_translation(prompt):
            return Translation(prompt)
        found = _PARAMETERS.search(prompt)
        words, parameters = (prompt[: found.start()], found.group()) if found else (prompt, "")
        try:
            answer = await self._ask(words.strip())
        except UpstreamError as exc:
            log.warning("Translating a prompt with %s failed (%s); sending it as written", self.model, exc)
            return Translation(prompt, note=Note("note.translate_failed"))
        if not answer:
            log.warning("Translating a prompt with %s gave no text; sending it as written", self.model)
            return Translation(prompt, note=Note("note.translate_failed"))
        english = f"{answer}{parameters}"
        return Translation(english, english)

    async def _ask(self, words: str) -> str:
        response = await self.http.request(
            "POST",
            f"{self.base_url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {self.api_key}"},
            json_body={
                "model": self.model,
                "messages": [{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": words}],
                "temperature": 0,
                "stream": False,
            },
            timeout=TIMEOUT,
        )
        return _content(response.json())


def _content(data: Any) -> str:
    """The answer's text, on one line, without quotes a model may wrap it in."""
    choices = data.get("choices") if isinstance(data, dict) else None
    message = (
        choices[0].get("message")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict)
        else None
    )
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        return ""
    text = " ".join(content.split()).strip().strip('"“”「」')
    return text[:MAX_ANSWER_CHARS]
