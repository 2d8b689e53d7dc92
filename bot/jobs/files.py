"""Pictures a job keeps on disk under DATA_DIR/jobs/<id>/: its prepared inputs (so a restart need not
fetch them again, and a reroll can use them) and its results, as posted and as the API made them
(so a result can be delivered again and its buttons can work on it), until RESULT_RETENTION_HOURS.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import shutil
from pathlib import Path

from PIL import Image

from bot.imaging import FittedImage, extension, run_in_pool, sniff
from bot.providers.base import InputImage
from bot.request import Exchange

log = logging.getLogger(__name__)


class JobFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, job_id: int) -> Path:
        return self.root / str(job_id)

    async def save_inputs(self, job_id: int, images: tuple[InputImage, ...]) -> None:
        await asyncio.to_thread(self._save, job_id, "in", [(i.data, i.mime) for i in images])

    async def load_inputs(self, job_id: int) -> tuple[InputImage, ...] | None:
        """The prepared inputs, or None when there are none on disk (never prepared, or gone)."""
        found = await asyncio.to_thread(self._load, job_id, "in")
        return None if found is None else tuple(InputImage(data, mime) for data, mime in found)

    async def save_results(
        self, job_id: int, images: tuple[FittedImage, ...], originals: tuple[bytes | None, ...] = ()
    ) -> None:
        await asyncio.to_thread(self._save, job_id, "out", [(i.data, i.mime) for i in images])
        for index, data in enumerate(originals):
            if data is not None:
                await asyncio.to_thread(self._save_one, job_id, f"src_{index}", data)

    async def save_conversation(self, job_id: int, exchanges: tuple[Exchange, ...]) -> None:
        """The turns an edit of this job's result sends back (Gemini's thought signatures inside)."""
        text = json.dumps([json.loads(e.to_json()) for e in exchanges])
        await asyncio.to_thread(self._save_one, job_id, "conversation", text.encode())

    async def load_conversation(self, job_id: int) -> tuple[Exchange, ...]:
        return await asyncio.to_thread(self._conversation, job_id)

    def _conversation(self, job_id: int) -> tuple[Exchange, ...]:
        path = self.folder(job_id) / "conversation.bin"
        try:
            raw = json.loads(path.read_bytes())
            return tuple(Exchange.from_json(json.dumps(item)) for item in raw)
        except (OSError, ValueError) as exc:
            if path.exists():
                log.warning("Job %d: its conversation is unreadable (%s)", job_id, exc)
            return ()

    async def load_picture(self, job_id: int, index: int) -> bytes | None:
        """One result as the API made it (else as posted), or None when it is gone."""
        return await asyncio.to_thread(self._picture, job_id, index)

    async def load_results(self, job_id: int) -> tuple[FittedImage, ...] | None:
        found = await asyncio.to_thread(self._load, job_id, "out")
        if found is None:
            return None
        return tuple([await run_in_pool(_fitted, data, mime) for data, mime in found])

    async def drop_inputs(self, job_id: int) -> None:
        await asyncio.to_thread(self._drop, job_id, "in")

    async def remove(self, job_id: int) -> None:
        await asyncio.to_thread(shutil.rmtree, self.folder(job_id), True)

    def stored_ids(self) -> list[int]:
        """The jobs that have a folder of pictures (blocking: run it in a thread)."""
        if not self.root.is_dir():
            return []
        return [int(p.name) for p in self.root.iterdir() if p.is_dir() and p.name.isdigit()]

    def _save(self, job_id: int, prefix: str, items: list[tuple[bytes, str]]) -> None:
        folder = self.folder(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        for index, (data, mime) in enumerate(items):
            part = folder / f".{prefix}_{index}.part"
            part.write_bytes(data)
            # Rename last, so a crash mid-write never leaves a half file under its real name.
            part.replace(folder / f"{prefix}_{index}.{extension(mime)}")
        (folder / f"{prefix}.count").write_text(str(len(items)))

    def _save_one(self, job_id: int, stem: str, data: bytes) -> None:
        folder = self.folder(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        part = folder / f".{stem}.part"
        part.write_bytes(data)
        part.replace(folder / f"{stem}.bin")

    def _picture(self, job_id: int, index: int) -> bytes | None:
        folder = self.folder(job_id)
        original = folder / f"src_{index}.bin"
        if original.is_file():
            return original.read_bytes()
        found = self._load(job_id, "out")
        return found[index][0] if found is not None and 0 <= index < len(found) else None

    def _load(self, job_id: int, prefix: str) -> list[tuple[bytes, str]] | None:
        folder = self.folder(job_id)
        try:
            count = int((folder / f"{prefix}.count").read_text())
        except (OSError, ValueError):
            return None
        found = []
        for index in range(count):
            paths = list(folder.glob(f"{prefix}_{index}.*"))
            if not paths:
                log.warning("Job %d lost its file %s_%d", job_id, prefix, index)
                return None
            data = paths[0].read_bytes()
            mime = sniff(data)
            if mime is None:
                return None
            found.append((data, mime))
        return found

    def _drop(self, job_id: int, prefix: str) -> None:
        folder = self.folder(job_id)
        (folder / f"{prefix}.count").unlink(missing_ok=True)
        for path in folder.glob(f"{prefix}_*"):
            path.unlink(missing_ok=True)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def _fitted(data: bytes, mime: str) -> FittedImage:
    with Image.open(io.BytesIO(data)) as img:
        return FittedImage(data, mime, img.width, img.height)
