"""A job's pictures on disk: results as posted and as the API made them."""

from __future__ import annotations

from pathlib import Path

from bot.imaging import FittedImage
from bot.jobs.files import JobFiles
from tests.fakes.relay import png


async def test_a_result_is_read_back_as_the_api_made_it_where_fitting_changed_it(tmp_path: Path) -> None:
    files = JobFiles(tmp_path)
    posted = [FittedImage(png(8, 8), "image/png", 8, 8), FittedImage(png(4, 4), "image/png", 4, 4)]
    original = png(64, 64)
    await files.save_results(7, tuple(posted), (original, None))
    assert await files.load_picture(7, 0) == original
    assert await files.load_picture(7, 1) == posted[1].data
    assert await files.load_picture(7, 2) is None
    assert await files.load_picture(8, 0) is None
    loaded = await files.load_results(7)
    assert loaded is not None and [i.data for i in loaded] == [p.data for p in posted]
