"""What each result button asks for, and which buttons a result offers."""

from __future__ import annotations

import pytest

from bot.followups import UPSCALE, VARY_SUBTLE, Offer, follow_up, next_size, offers
from bot.jobs.model import Job, Origin
from bot.providers.base import Capabilities
from bot.request import Derivation, GenerateRequest, Kind, Parent, SourceImage

SIZES = Capabilities(("1:1",), ("1K", "2K", "4K"), max_input_images=14, max_prompt_chars=8000)
ONE_SIZE = Capabilities(("1:1",), (), max_input_images=3, max_prompt_chars=8000)
TEXT_ONLY = Capabilities(("1:1",), (), max_input_images=0, max_prompt_chars=4000)


def parent(**changes: object) -> Job:
    fields: dict = {"size": None, **changes}
    request = GenerateRequest("a barn", "gemini-3-pro-image-preview", "16:9", **fields)
    return Job(5, request, Origin(1, "alice", 2), 1)


@pytest.mark.parametrize(
    ("size", "expected"), [(None, "2K"), ("1K", "2K"), ("2K", "4K"), ("4K", None), ("8K", None)]
)
def test_next_size(size: str | None, expected: str | None) -> None:
    assert next_size(SIZES, size) == expected
    assert next_size(ONE_SIZE, size) is None


def test_one_picture_offers_the_edits_its_model_can_do() -> None:
    request = parent().request
    assert [o.how for o in offers(request, SIZES, 1)] == [
        Derivation.REROLL,
        Derivation.VARY,
        Derivation.VARY_STRONG,
        Derivation.EDIT,
        Derivation.UPSCALE,
        Derivation.ZOOM,
    ]
    assert Derivation.UPSCALE not in [o.how for o in offers(request, ONE_SIZE, 1)]
    assert offers(request, TEXT_ONLY, 1) == [Offer(Derivation.REROLL)], "a text-only model only rerolls"


def test_a_set_offers_u_and_v_per_picture_then_reroll() -> None:
    found = offers(parent().request, SIZES, 3)
    assert found == [
        *(Offer(Derivation.PICK, i) for i in range(3)),
        *(Offer(Derivation.VARY, i) for i in range(3)),
        Offer(Derivation.REROLL),
    ]
    assert offers(parent().request, TEXT_ONLY, 2) == [
        *(Offer(Derivation.PICK, i) for i in range(2)),
        Offer(Derivation.REROLL),
    ]


def test_reroll_is_the_same_request_with_its_lineage() -> None:
    earlier = parent(sources=(SourceImage("a.png", "https://cdn/a.png"),), kind=Kind.EDIT)
    again = follow_up(earlier, Derivation.REROLL, 0, SIZES)
    assert again.prompt == "a barn" and again.sources == earlier.request.sources
    assert again.kind is Kind.EDIT and again.parent == Parent(5, 0, Derivation.REROLL)


def test_vary_and_upscale_edit_the_picture_and_show_the_original_prompt() -> None:
    varied = follow_up(parent(), Derivation.VARY, 2, SIZES)
    assert varied.kind is Kind.EDIT and varied.parent == Parent(5, 2, Derivation.VARY)
    assert varied.prompt == f"{VARY_SUBTLE} The picture was made for: a barn"
    assert varied.caption == "a barn" and varied.aspect_ratio == "16:9"
    bigger = follow_up(parent(size="2K"), Derivation.UPSCALE, 0, SIZES)
    assert bigger.size == "4K" and bigger.prompt.startswith(UPSCALE)


def test_edit_sends_the_members_words_and_uploads() -> None:
    upload = (SourceImage("hat.png", "https://cdn/hat.png"),)
    changed = follow_up(parent(), Derivation.EDIT, 0, SIZES, words="add a hat", uploads=upload)
    assert (changed.prompt, changed.caption, changed.sources) == ("add a hat", "add a hat", upload)


def test_a_pick_is_not_a_request() -> None:
    with pytest.raises(ValueError, match="pick"):
        follow_up(parent(), Derivation.PICK, 0, SIZES)
