"""A real discord.py 2.7 client against the fake Discord: its LayoutView cards are accepted and readable
with the e2e helpers, the fake's refusals reach it as Discord's would, and it reads a submitted modal
with files as Discord sends one.

The client logs in over REST only (no gateway), as in shared/discord.md B6 tier 1.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import discord
import pytest

from tests.e2e.helpers import buttons_of, card_texts, gallery_of, is_card
from tests.fakes import pictures
from tests.fakes.discord import CHANNEL_ID, FakeDiscord

PNG = pictures.encode(pictures.photo(8, 8), "PNG")


@pytest.fixture
def fake(discord_fake: FakeDiscord) -> FakeDiscord:
    return discord_fake  # the suite's own fake (tests/conftest.py), under a shorter name


@pytest.fixture
async def client(fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[discord.Client]:
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_url)
    bot = discord.Client(intents=discord.Intents.none())
    await bot.login("fake-token")
    yield bot
    await bot.close()


def png(name: str) -> discord.File:
    return discord.File(io.BytesIO(PNG), filename=name)


class Card(discord.ui.LayoutView):
    """What a result looks like: a container with a caption, the pictures and the follow-up buttons."""

    def __init__(self, caption: str, files: list[discord.File]) -> None:
        super().__init__(timeout=None)
        self.add_item(
            discord.ui.Container(
                discord.ui.TextDisplay(caption),
                discord.ui.MediaGallery(*(discord.MediaGalleryItem(f) for f in files)),
                discord.ui.ActionRow(
                    discord.ui.Button(label="Retry", custom_id="bb:retry:1"),
                    discord.ui.Button(label="Upscale", custom_id="bb:up:1", emoji="🔍"),
                    discord.ui.Button(label="Open", url="https://example.com/job/1"),
                ),
                accent_colour=discord.Colour.yellow(),
            )
        )


async def test_a_layout_view_sent_in_a_channel_is_accepted_and_readable(
    fake: FakeDiscord, client: discord.Client
) -> None:
    channel = client.get_partial_messageable(int(CHANNEL_ID))
    files = [png("a.png"), png("b.png")]
    message = await channel.send(view=Card("**a cat**", files), files=files)

    sent = fake.calls[-1]
    assert is_card(sent) and gallery_of(sent) == ["attachment://a.png", "attachment://b.png"]
    stored = fake.channel_messages[str(message.id)]
    assert is_card(stored) and card_texts(stored) == ["**a cat**"]
    assert [(b["label"], b["custom_id"]) for b in buttons_of(stored)] == [
        ("Retry", "bb:retry:1"),
        ("Upscale", "bb:up:1"),
        ("Open", None),
    ]
    assert gallery_of(stored) == [a["url"] for a in stored["attachments"]]
    assert message.flags.components_v2 and [a.filename for a in message.attachments] == ["a.png", "b.png"]

    edited = await message.edit(view=Card("**a cat**, done", [png("a.png")]))  # keeps its files
    assert card_texts(fake.channel_messages[str(edited.id)]) == ["**a cat**, done"]
    assert not fake.refusals


async def test_a_deferred_interaction_becomes_a_card_and_follow_ups_are_cards(
    fake: FakeDiscord, client: discord.Client
) -> None:
    payload = fake.slash("imagine", {"prompt": "a cat"})
    interaction = discord.Interaction(data=payload, state=client._connection)
    await interaction.response.defer()
    first = png("out.png")
    await interaction.edit_original_response(view=Card("**a cat**", [first]), attachments=[first])
    original = fake.original_message(payload["token"])
    assert is_card(original) and card_texts(original) == ["**a cat**"] and len(gallery_of(original)) == 1

    second = png("more.png")
    follow_up = await interaction.followup.send(view=Card("one more", [second]), files=[second], wait=True)
    assert follow_up.flags.components_v2 and card_texts(fake.calls[-1]) == ["one more"]
    assert not fake.refusals


async def test_discord_py_reports_a_refused_card_as_discord_s_form_error(
    fake: FakeDiscord, client: discord.Client
) -> None:
    channel = client.get_partial_messageable(int(CHANNEL_ID))
    with pytest.raises(discord.HTTPException) as refused:
        await channel.send(view=Card("caption", [png("a.png")]))  # the gallery names a file not sent
    assert refused.value.status == 400 and refused.value.code == 50035
    assert "attachment://a.png" in refused.value.text
    (call,) = fake.refusals
    assert call.refusal is not None and call.refusal["message"] == "Invalid Form Body"


class PictureModal(discord.ui.Modal, title="Edit with pictures"):
    prompt: discord.ui.Label[discord.ui.TextInput] = discord.ui.Label(
        text="Prompt", component=discord.ui.TextInput(custom_id="prompt")
    )
    pictures: discord.ui.Label[discord.ui.FileUpload] = discord.ui.Label(
        text="Pictures", component=discord.ui.FileUpload(custom_id="pictures", max_values=2)
    )

    def __init__(self) -> None:
        super().__init__(custom_id="bb:modal:pictures", timeout=None)
        self.submitted: asyncio.Future[tuple[str, list[bytes]]] = asyncio.get_running_loop().create_future()

    async def on_submit(self, interaction: discord.Interaction) -> None:
        files = [await a.read() for a in self.pictures.component.values]
        self.submitted.set_result((self.prompt.component.value, files))


async def test_discord_py_reads_a_modal_submitted_with_files(
    fake: FakeDiscord, client: discord.Client
) -> None:
    opened = fake.slash("edit", {})
    modal = PictureModal()
    await discord.Interaction(data=opened, state=client._connection).response.send_modal(modal)
    callback = fake.calls[-1]
    assert callback.payload["type"] == 9

    uploads = [fake.attachment("one.png", PNG), fake.attachment("two.png", PNG[::-1])]
    submit = fake.modal_submit(
        "bb:modal:pictures", {"prompt": "make it blue", "pictures": uploads}, modal=callback.payload["data"]
    )
    assert [c["type"] for c in submit["data"]["components"]] == [18, 18]
    client._connection.parse_interaction_create(submit)
    prompt, files = await asyncio.wait_for(modal.submitted, 5)
    assert prompt == "make it blue" and files == [PNG, PNG[::-1]]
