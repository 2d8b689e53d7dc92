from __future__ import annotations

import io

from PIL import Image

from tests.fakes.discord import FakeDiscord
from tests.fakes.relay import FakeRelay


async def test_imagine_smoke(start_bot, discord_fake: FakeDiscord, relay: FakeRelay) -> None:
    await start_bot()
    sent = await discord_fake.send_interaction(
        discord_fake.slash("imagine", {"prompt": "a cat", "aspect_ratio": "16:9"})
    )
    final = await discord_fake.wait_final(sent)
    print(final.method, final.path, final.payload)
    print([(c.method, c.path) for c in discord_fake.calls])
    img = Image.open(io.BytesIO(final.files[0].data))
    print(img.size, relay.calls[0].body["generationConfig"])
