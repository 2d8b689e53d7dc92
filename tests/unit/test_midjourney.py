from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.errors import ContentBlocked, UpstreamAuthFailed, UpstreamModelNotFound, UpstreamRejectedRequest
from bot.http import HttpResponse, error_from_response, parse_error_body
from bot.providers.base import ALL_RATIOS, Action, GenerateRequest, InputImage, Kind
from bot.providers.midjourney import (
    TERMINAL,
    blend_dimensions,
    bot_type,
    capabilities,
    imagine_prompt,
    needs_prompt,
    offered_actions,
    task_image_url,
    task_percent,
    task_status,
)
from bot.redact import Redactor

HASH = "82c51c9d-bc33-4c07-a471-36c3dcb1a6f0"


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 10, 10)).save(buffer, "PNG")
    return buffer.getvalue()


def button(custom_id: str, label: str = "", emoji: str = "") -> dict[str, object]:
    return {"customId": custom_id, "emoji": emoji, "label": label, "style": 2, "type": 2}


def test_capabilities() -> None:
    caps = capabilities("midjourney")
    assert caps.aspect_ratios == ALL_RATIOS
    assert (caps.sizes, caps.max_input_images, caps.max_count) == ((), 5, 1)
    assert (caps.blend_images, caps.prompt_required_for_blend) == ((2, 5), False)
    assert caps.native_count is False and caps.ratio_by_prompt is False


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("midjourney", "MID_JOURNEY"),
        ("mj-fast", "MID_JOURNEY"),
        ("niji", "NIJI_JOURNEY"),
        ("mj-Niji-6", "NIJI_JOURNEY"),
    ],
)
def test_bot_type(model: str, expected: str) -> None:
    assert bot_type(model) == expected


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [
        (None, "SQUARE"),
        ("1:1", "SQUARE"),
        ("2:3", "PORTRAIT"),
        ("9:16", "PORTRAIT"),
        ("1:8", "PORTRAIT"),
        ("3:2", "LANDSCAPE"),
        ("21:9", "LANDSCAPE"),
    ],
)
def test_blend_dimensions(ratio: str | None, expected: str) -> None:
    assert blend_dimensions(ratio) == expected


@pytest.mark.parametrize(
    ("prompt", "ratio", "expected"),
    [
        ("Cat", None, "Cat"),
        ("Cat", "16:9", "Cat --ar 16:9"),
        ("Cat --v 6.1", "2:3", "Cat --v 6.1 --ar 2:3"),
        ("Cat --ar 3:2", "16:9", "Cat --ar 3:2"),
        ("Cat --aspect 4:5", "16:9", "Cat --aspect 4:5"),
        ("Cat --are", "1:1", "Cat --are --ar 1:1"),
        ("Cat —ar 3:2", "16:9", "Cat —ar 3:2"),
    ],
)
def test_imagine_prompt(prompt: str, ratio: str | None, expected: str) -> None:
    assert imagine_prompt(GenerateRequest(prompt, "midjourney", aspect_ratio=ratio)) == expected


def test_imagine_prompt_ignores_images_and_kind() -> None:
    request = GenerateRequest(
        "Cat", "midjourney", aspect_ratio="4:3", images=(InputImage(png(), "image/png"),), kind=Kind.EDIT
    )
    assert imagine_prompt(request) == "Cat --ar 4:3"


def test_blend_input_is_a_full_data_url() -> None:
    url = InputImage(png(), "image/png").data_url()
    assert url.startswith("data:image/png;base64,iVBORw0KGgo") and "\n" not in url


@pytest.mark.parametrize(
    ("custom_id", "expected"),
    [
        (f"MJ::CustomZoom::{HASH}", True),
        (f"MJ::Outpaint::50::1::{HASH}::SOLO", False),
        (f"MJ::JOB::variation::1::{HASH}", False),
        (f"MJ::Inpaint::1::{HASH}::SOLO", False),
        (f"xMJ::CustomZoom::{HASH}", False),
    ],
)
def test_needs_prompt(custom_id: str, expected: bool) -> None:
    assert needs_prompt(custom_id) is expected


def test_offered_actions_keep_usable_buttons_in_order() -> None:
    task = {
        "buttons": [
            button(f"MJ::JOB::upsample::1::{HASH}", "U1"),
            button(f"MJ::JOB::variation::2::{HASH}", "V2"),
            button(f"MJ::JOB::reroll::0::{HASH}::SOLO", emoji="🔄"),
            button(f"MJ::JOB::upsample_v6_2x_subtle::1::{HASH}::SOLO", "Upscale (Subtle)"),
            button(f"MJ::JOB::high_variation::1::{HASH}::SOLO", "Vary (Strong)", "🪄"),
            button(f"MJ::JOB::low_variation::1::{HASH}::SOLO", "Vary (Subtle)", "🪄"),
            button(f"MJ::Inpaint::1::{HASH}::SOLO", "Vary (Region)", "🖌️"),
            button(f"MJ::Outpaint::50::1::{HASH}::SOLO", "Zoom Out 2x", "🔍"),
            button(f"MJ::CustomZoom::{HASH}", "Custom Zoom", "🔍"),
            button(f"MJ::JOB::pan_left::1::{HASH}::SOLO", emoji="⬅️"),
            button(f"MJ::JOB::animate_high::1::{HASH}::SOLO", "Animate (High motion)"),
            button(f"MJ::BOOKMARK::{HASH}", emoji="❤️"),
        ]
    }
    assert offered_actions(task) == (
        Action("U1", "", f"MJ::JOB::upsample::1::{HASH}"),
        Action("V2", "", f"MJ::JOB::variation::2::{HASH}"),
        Action("", "🔄", f"MJ::JOB::reroll::0::{HASH}::SOLO"),
        Action("Upscale (Subtle)", "", f"MJ::JOB::upsample_v6_2x_subtle::1::{HASH}::SOLO"),
        Action("Vary (Strong)", "🪄", f"MJ::JOB::high_variation::1::{HASH}::SOLO"),
        Action("Vary (Subtle)", "🪄", f"MJ::JOB::low_variation::1::{HASH}::SOLO"),
        Action("Zoom Out 2x", "🔍", f"MJ::Outpaint::50::1::{HASH}::SOLO"),
        Action("Custom Zoom", "🔍", f"MJ::CustomZoom::{HASH}"),
        Action("", "⬅️", f"MJ::JOB::pan_left::1::{HASH}::SOLO"),
    )


@pytest.mark.parametrize(
    "task",
    [{}, {"buttons": None}, {"buttons": []}, {"buttons": [None, {"label": "no id"}, {"customId": None}]}],
)
def test_no_offered_actions(task: dict[str, object]) -> None:
    assert offered_actions(task) == ()


def test_offered_action_missing_label_and_emoji_become_empty_strings() -> None:
    task = {"buttons": [{"customId": f"MJ::JOB::upsample::3::{HASH}", "label": None}]}
    assert offered_actions(task) == (Action("", "", f"MJ::JOB::upsample::3::{HASH}"),)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("NOT_START", "NOT_START"),
        ("SUBMITTED", "SUBMITTED"),
        ("MODAL", "MODAL"),
        ("IN_PROGRESS", "IN_PROGRESS"),
        ("in_progress", "IN_PROGRESS"),
        ("FAILURE", "FAILURE"),
        ("SUCCESS", "SUCCESS"),
        ("CANCEL", "CANCEL"),
        (0, "NOT_START"),
        (1, "SUBMITTED"),
        (3, "IN_PROGRESS"),
        (4, "FAILURE"),
        (5, "SUCCESS"),
        (6, "MODAL"),
        (7, "CANCEL"),
        (2, "UNKNOWN"),
        ("5", "SUCCESS"),
        (" 4 ", "FAILURE"),
        (None, ""),
        ("", ""),
    ],
)
def test_task_status(status: object, expected: str) -> None:
    assert task_status({"id": "1689231405853400", "status": status}) == expected


def test_missing_status_and_terminal_states() -> None:
    assert task_status({}) == ""
    assert {"SUCCESS", "FAILURE", "CANCEL"} == TERMINAL


@pytest.mark.parametrize(
    ("progress", "expected"),
    [("0%", 0), ("45%", 45), ("100%", 100), ("进度 48 %", 48), ("", None), (None, None), ("done", None)],
)
def test_task_percent(progress: object, expected: int | None) -> None:
    assert task_percent({"progress": progress}) == expected


def test_task_percent_without_field() -> None:
    assert task_percent({}) is None


CDN = "https://cdn.discordapp.com/attachments/1/2"


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ({"imageUrl": f"{CDN}/grid.png"}, f"{CDN}/grid.png"),
        (
            {"imageUrl": f"{CDN}/grid.webp", "imageUrls": [{"url": f"{CDN}/0.png"}]},
            f"{CDN}/grid.webp",
        ),
        (
            {
                "imageUrl": None,
                "imageUrls": [{"url": f"{CDN}/0.png", "thumbnail": f"{CDN}/t.png"}, {"url": "x"}],
            },
            f"{CDN}/0.png",
        ),
        ({"imageUrl": "", "imageUrls": [{"url": f"{CDN}/0.png"}]}, f"{CDN}/0.png"),
        ({"imageUrls": [{"url": ""}]}, None),
        ({"imageUrls": []}, None),
        ({"imageUrls": None}, None),
        ({}, None),
    ],
)
def test_task_image_url(task: dict[str, object], expected: str | None) -> None:
    assert task_image_url(task) == expected


def test_task_in_progress_from_protocol_example() -> None:
    task = {
        "id": "1689231405853400",
        "action": "IMAGINE",
        "status": "IN_PROGRESS",
        "progress": "45%",
        "imageUrl": "https://cdn.discordapp.com/attachments/1/2/x.png",
        "failReason": None,
        "buttons": [button(f"MJ::JOB::upsample::1::{HASH}", "U1")],
    }
    assert (task_status(task), task_percent(task), task_image_url(task)) == (
        "IN_PROGRESS",
        45,
        "https://cdn.discordapp.com/attachments/1/2/x.png",
    )
    assert task_status(task) not in TERMINAL


# --- proxy error bodies (protocols.md §0 and §4) ---------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "expected", "message", "code"),
    [
        (401, "Authorization header missing.", UpstreamAuthFailed, "Authorization header missing.", ""),
        (401, "账号已禁用", UpstreamAuthFailed, "账号已禁用", ""),
        (401, "", UpstreamAuthFailed, "", ""),
        (
            400,
            '{"code":4,"description":"base64List参数错误","result":null}',
            UpstreamRejectedRequest,
            "base64List参数错误",
            "4",
        ),
        (
            404,
            '{"code":3,"description":"关联任务不存在或已失效"}',
            UpstreamModelNotFound,
            "关联任务不存在或已失效",
            "3",
        ),
        (
            400,
            '{"code":24,"description":"可能包含敏感词","properties":{"promptEn":"x","bannedWord":"x"}}',
            ContentBlocked,
            "可能包含敏感词",
            "24",
        ),
        (
            400,
            '{"code":"4","description":"请求错误 (request id: 2026112409301512)"}',
            UpstreamRejectedRequest,
            "请求错误",
            "4",
        ),
    ],
)
def test_proxy_error_bodies(status: int, body: str, expected: type, message: str, code: str) -> None:
    info = parse_error_body(body)
    assert (info.message, info.code) == (message, code)
    error = error_from_response(HttpResponse(status, {}, body.encode()), Redactor())
    assert type(error) is expected
    assert error.status == status
