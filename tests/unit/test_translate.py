from __future__ import annotations

from bot.translate import _content, needs_translation


def test_only_prompts_with_letters_outside_ascii_are_translated() -> None:
    assert (
        needs_translation("黎明的锦鲤池") and needs_translation("кот") and needs_translation("café au lait")
    )
    assert not needs_translation("a koi pond --ar 16:9") and not needs_translation("1:1 · 🍌 ✨")


def test_the_answer_is_one_line_without_quotes() -> None:
    answer = {"choices": [{"message": {"content": '  "a koi pond\nat dawn"  '}}]}
    assert _content(answer) == "a koi pond at dawn"
    assert _content({"choices": []}) == "" and _content("nope") == ""
