"""What each button under a result asks for: the request it makes from the earlier result, and which
buttons a result offers. Plain values only; the Discord side draws the buttons.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.jobs.model import Job
from bot.providers.base import Capabilities
from bot.request import Derivation, GenerateRequest, Kind, Parent, SourceImage

# Instructions for the image model (not member text: the API reads them, so they stay English).
VARY_SUBTLE = (
    "Make a subtle variation of this picture: keep its subject, composition, colours and style, "
    "and change only small details."
)
VARY_STRONG = (
    "Make a strong variation of this picture: keep its subject and style, and freely change the "
    "composition, pose, lighting and details."
)
UPSCALE = (
    "Render this exact picture again at a higher resolution. Keep every detail, the composition, "
    "the colours and any text exactly as they are; only add fine detail and sharpness."
)
ZOOM_OUT = (
    "Zoom out: extend the scene outward on every side so that this picture becomes the centre of "
    "a view twice as wide and twice as tall. Keep the centre exactly as it is."
)
DEFAULT_SIZE = "1K"  # what a model with sizes makes when none was asked for


@dataclass(frozen=True)
class Offer:
    """One button a result offers: what it does and on which of its pictures."""

    how: Derivation
    index: int = 0


def next_size(caps: Capabilities, size: str | None) -> str | None:
    """The model's next bigger size after `size`, or None at its largest (or without sizes)."""
    if not caps.sizes:
        return None
    current = size or DEFAULT_SIZE
    if current not in caps.sizes:
        return None
    at = caps.sizes.index(current)
    return caps.sizes[at + 1] if at + 1 < len(caps.sizes) else None


def offers(request: GenerateRequest, caps: Capabilities, pictures: int) -> list[Offer]:
    """The follow-ups of a result with `pictures` pictures made for `request` on a model with `caps`.

    Delete is always there and is the Discord side's own; a task API's native buttons replace these.
    """
    edits = caps.max_input_images > 0
    if pictures > 1:
        picks = [Offer(Derivation.PICK, i) for i in range(pictures)]
        varies = [Offer(Derivation.VARY, i) for i in range(pictures)] if edits else []
        return [*picks, *varies, Offer(Derivation.REROLL)]
    found = [Offer(Derivation.REROLL)]
    if edits:
        found += [Offer(Derivation.VARY), Offer(Derivation.VARY_STRONG), Offer(Derivation.EDIT)]
    if edits and next_size(caps, request.size):
        found.append(Offer(Derivation.UPSCALE))
    if edits:
        found.append(Offer(Derivation.ZOOM))
    return found


def follow_up(
    parent: Job,
    how: Derivation,
    index: int,
    caps: Capabilities,
    *,
    words: str = "",
    uploads: tuple[SourceImage, ...] = (),
) -> GenerateRequest:
    """The request a press makes from the earlier result (its model, its options, its picture)."""
    earlier = parent.request
    lineage = Parent(parent.id, index, how)
    if how is Derivation.REROLL:
        return replace(earlier, images=(), parent=lineage, follow_up=None)
    base = GenerateRequest(
        prompt=earlier.prompt,
        model=earlier.model,
        aspect_ratio=earlier.aspect_ratio,
        size=earlier.size,
        kind=Kind.EDIT,
        parent=lineage,
        shown=earlier.caption,
    )
    if how is Derivation.EDIT:
        return replace(base, prompt=words, sources=uploads, shown="")
    if how is Derivation.UPSCALE:
        return replace(base, prompt=_with(UPSCALE, earlier), size=next_size(caps, earlier.size))
    instruction = {
        Derivation.VARY: VARY_SUBTLE,
        Derivation.VARY_STRONG: VARY_STRONG,
        Derivation.ZOOM: ZOOM_OUT,
    }.get(how)
    if instruction is None:
        raise ValueError(f"{how} is not a follow-up that makes a request")
    return replace(base, prompt=_with(instruction, earlier))


def _with(instruction: str, earlier: GenerateRequest) -> str:
    said = earlier.caption
    return f"{instruction} The picture was made for: {said}" if said else instruction
