"""Thumbnails are objects made once, at capture (or the first time a page needs one
for an older record), found by a ref keyed by the output; gc keeps a live one and
drops an orphan one; fsck finds nothing wrong with them."""

from __future__ import annotations

import base64
import io
import random
import re
import time
from pathlib import Path

import pytest
from PIL import Image

from repro.api import gc as api_gc
from repro.api.repository import Repository
from repro.lineage.perceptual import hamming, looks_of, prints_of
from repro.lineage.thumbnails import SIDE, TINY, encode, thumbnail_of
from tests.helpers import make_output, run, run_json

Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def added(project: Path, capsys: Capsys) -> dict[str, str]:
    """The shared project (tests/conftest.py) with three outputs captured, one an
    ``add`` (so each thumbnail has a ref file, and each object a file of its own;
    a batch's thumbnails are linked in its pack: tests/api/test_packed_store.py):
    output BLAKE3 by record id."""
    added = {}
    for seed in (1, 2, 3):
        path = make_output(project, f"o{seed}.png", seed=seed)
        record = run_json(capsys, "-C", project, "add", path, "--no-env")["records"][0]
        added[record["id"]] = record["output"]
    return added


def embedded(page: str) -> list[bytes]:
    """The thumbnails a page embeds, decoded."""
    return [base64.b64decode(b) for b in re.findall(r'"thumb":"data:image/webp;base64,([^"]+)"',
                                                    page)]


def test_add_stores_one_small_webp_per_output(project: Path, added: dict[str, str]) -> None:
    repo = Repository(project)
    for output in added.values():
        thumb = repo.thumbs.id_of(output)
        assert thumb is not None and thumb in repo.store
        with Image.open(io.BytesIO(repo.store.read_bytes(thumb))) as im:
            assert im.format == "WEBP" and max(im.size) <= SIDE


def test_the_page_embeds_the_stored_thumbnails_even_without_the_outputs(
        project: Path, added: dict[str, str], capsys: Capsys) -> None:
    repo = Repository(project)
    stored = sorted(repo.store.read_bytes(str(repo.thumbs.id_of(o))) for o in added.values())
    for output in added.values():  # the page must not need the outputs themselves
        path = repo.store.path(output)
        path.chmod(0o644)
        path.unlink()
    code, page, err = run(capsys, "-C", project, "graph", "--format", "html")
    assert code == 0, err
    assert sorted(embedded(page)) == stored


def test_records_without_thumbnails_get_them_once_and_keep_them(
        project: Path, added: dict[str, str], capsys: Capsys) -> None:
    repo = Repository(project)
    made_at_capture = {o: repo.thumbs.id_of(o) for o in added.values()}
    for output in added.values():  # as a store captured before thumbnails existed
        repo.thumbs.ref(output).unlink()
    first = run(capsys, "-C", project, "graph", "--format", "html")[1]
    assert len(embedded(first)) == len(added)
    # Kept: the same objects a capture makes, found by the next page.
    assert {o: repo.thumbs.id_of(o) for o in added.values()} == made_at_capture
    assert run(capsys, "-C", project, "graph", "--format", "html")[1] == first


def test_a_torn_ref_reads_as_no_thumbnail_and_is_made_again(
        project: Path, added: dict[str, str], capsys: Capsys) -> None:
    repo = Repository(project)
    output = next(iter(added.values()))
    want = repo.thumbs.id_of(output)
    repo.thumbs.ref(output).write_bytes(b"3f2a")  # a crash cut it short
    assert repo.thumbs.id_of(output) is None
    page = run(capsys, "-C", project, "graph", "--format", "html")[1]
    assert len(embedded(page)) == len(added)
    assert repo.thumbs.id_of(output) == want


def test_gc_keeps_live_thumbnails_and_drops_orphans(
        project: Path, added: dict[str, str], capsys: Capsys,
        monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repository(project)
    live = {o: repo.thumbs.id_of(o) for o in added.values()}
    # An orphan thumbnail object (its ref never written: a crash), and the ref of an
    # output that is not in the store (its record gone), with its thumbnail.
    orphan = repo.store.put_bytes(encode(Image.new("RGB", (40, 30), "red")))
    gone = "ab" * 32
    gone_thumb = repo.thumbs.put(gone, encode(Image.new("RGB", (30, 40), "blue")))
    later = time.time() + 30 * 86400
    monkeypatch.setattr(api_gc.time, "time", lambda: later)
    result = run_json(capsys, "-C", project, "gc", "--grace-days", "7")
    assert set(result["objects"]) == {orphan, gone_thumb}
    assert {o: repo.thumbs.id_of(o) for o in added.values()} == live
    assert not repo.thumbs.ref(gone).exists()
    assert run_json(capsys, "-C", project, "fsck")["problems"] == []


def test_fsck_finds_nothing_wrong_with_thumbnails(project: Path, added: dict[str, str],
                                                  capsys: Capsys) -> None:
    code, out, _ = run(capsys, "-C", project, "fsck", "--json")
    assert code == 0 and '"problems": []' in out.replace('"problems":[]', '"problems": []')


def test_one_decode_gives_the_same_prints_as_before(tmp_path: Path) -> None:
    from repro.demo import scene

    picture = scene(5)
    for name, im, kw in (("rgb.png", picture, {}),
                         ("rgba.png", picture.convert("RGBA"), {}),
                         ("photo.jpg", picture, {"quality": 90})):
        out = io.BytesIO()
        im.save(out, format="JPEG" if name.endswith("jpg") else "PNG", **kw)
        data = out.getvalue()
        looks, prints = looks_of(data), prints_of(data)
        assert looks is not None and prints is not None
        assert looks.pixel_hash == prints[0]
        # A JPEG is decoded reduced in colour now (grey before): a bit may move.
        assert hamming(looks.fingerprint, prints[1]) <= (2 if name.endswith("jpg") else 0)
        with Image.open(io.BytesIO(looks.thumbnail)) as thumb:
            assert max(thumb.size) == SIDE
            assert thumb.mode == "RGB"  # every pixel opaque: no alpha kept


def test_thumbnail_bounds_and_transparency() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (600, 300), (255, 0, 0, 128)).save(out, format="PNG")
    thumb = thumbnail_of(out.getvalue())
    assert thumb is not None
    with Image.open(io.BytesIO(thumb)) as im:
        assert im.size == (SIDE, SIDE // 2) and im.mode == "RGBA"
    assert thumbnail_of(b"not an image") is None
    assert thumbnail_of(b"\x89PNG\r\n\x1a\n" + b"\0" * 40) is None
    assert looks_of(b"not an image") is None


def test_a_video_output_has_no_thumbnail_and_keeps_none(project: Path, capsys: Capsys) -> None:
    video = Path(__file__).resolve().parents[1] / "fixtures/video/comfy.mp4"
    (project / "clip.mp4").write_bytes(video.read_bytes())
    assert run(capsys, "-C", project, "add", project / "clip.mp4", "--no-env")[0] == 0
    code, page, _ = run(capsys, "-C", project, "graph", "--format", "html")
    assert code == 0 and '"thumb":null' in page
    assert list(Repository(project).thumbs.refs()) == []


def test_a_tiny_output_is_its_own_thumbnail_pixel_for_pixel() -> None:
    r = random.Random(3)
    for mode, size in (("RGB", (32, 32)), ("RGBA", (16, 64)), ("RGB", (5, 7))):
        pixels = size[0] * size[1]
        im = Image.frombytes(mode, size, r.randbytes(pixels * len(mode)))
        if mode == "RGBA":  # transparent, half and opaque pixels
            im.putalpha(Image.frombytes("L", size, bytes(r.choice([0, 128, 255])
                                                         for _ in range(pixels))))
        looks = looks_of(png(im))
        assert looks is not None and size[0] * size[1] <= TINY
        with Image.open(io.BytesIO(looks.thumbnail)) as thumb:
            assert thumb.format == "WEBP" and thumb.size == size and thumb.mode == mode
            got, want = pixels_of(thumb), pixels_of(im)
        # Under a transparent pixel, the colour may be another (WebP's default).
        shown = [i for i, pixel in enumerate(want) if mode == "RGB" or pixel[3] > 0]
        assert [got[i] for i in shown] == [want[i] for i in shown]
    # Larger outputs stay lossy: smaller thumbnails, slightly different pixels.
    from repro.demo import scene

    picture = scene(2, (128, 128))
    looks = looks_of(png(picture))
    assert looks is not None
    with Image.open(io.BytesIO(looks.thumbnail)) as thumb:
        assert thumb.size == (128, 128)
        assert thumb.convert("RGB").tobytes() != picture.convert("RGB").tobytes()


def pixels_of(im: Image.Image) -> list[bytes]:
    data, bands = im.tobytes(), len(im.mode)
    return [data[i:i + bands] for i in range(0, len(data), bands)]


def png(im: Image.Image) -> bytes:
    out = io.BytesIO()
    im.save(out, format="PNG")
    return out.getvalue()


def test_encode_writes_the_webp_that_pillow_saves_by_format_name() -> None:
    # encode names its format by the stream's name (``save(format=...)`` would import
    # every reader Pillow has first): the same encoder and settings, the same bytes.
    for size, settings in (((40, 30), {"quality": 75, "method": 2}),
                           ((20, 20), {"lossless": True, "quality": 0, "method": 0})):
        image = Image.frombytes("RGB", size, bytes(range(200)) * 6 * size[1])
        out = io.BytesIO()
        image.save(out, format="WEBP", **settings)
        assert encode(image) == out.getvalue()
