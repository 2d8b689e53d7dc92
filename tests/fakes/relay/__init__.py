"""A fake image API relay on 127.0.0.1 speaking the four formats the bot uses, with their failure modes.

Gemini generateContent, OpenAI chat completions, the OpenAI Images API, the Midjourney-proxy task API
and the OpenAI model list. Tests queue the behaviour of the next API calls (`relay.queue("http_429",
"ok")`); with nothing queued a call succeeds in its endpoint's own format. Midjourney task fetches
are not queued: each task follows the lifecycle its submit mode gave it. Every request is recorded
with its path, query, headers and body (JSON, or the multipart fields and files).

`core` holds the relay itself; each format's routes and answers live in a module of their own, and
`faults` the failures any endpoint can be told to give.
"""

from tests.fakes.relay.common import Handler, b64, noise_png, png, size_for_ratio
from tests.fakes.relay.core import MODES, FakeRelay, FormFile, RelayCall
from tests.fakes.relay.midjourney import (
    GRID_BUTTONS,
    MJ_HASH,
    UPSCALE_BUTTONS,
    MjTask,
    mj_lifecycle,
    mj_success,
    snowflake_id,
)

__all__ = [
    "GRID_BUTTONS",
    "MJ_HASH",
    "MODES",
    "UPSCALE_BUTTONS",
    "FakeRelay",
    "FormFile",
    "Handler",
    "MjTask",
    "RelayCall",
    "b64",
    "mj_lifecycle",
    "mj_success",
    "noise_png",
    "png",
    "size_for_ratio",
    "snowflake_id",
]
