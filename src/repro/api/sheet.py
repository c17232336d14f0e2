"""A contact sheet: the target and each variation as a thumbnail, the changed value
under each. ``.html`` gives one self-contained page; any other suffix an image
(PNG, JPEG, WebP) drawn with Pillow."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path

from repro.api.repository import Repository
from repro.objects.atomic import write_bytes
from repro.record import Record

THUMB = 256
LABEL_HEIGHT = 18


def _thumbnail(repo: Repository, record: Record) -> object | None:
    from repro.imaging import ImageUnreadable, open_image

    if record.output.blake3 not in repo.store:
        return None
    try:
        with repo.store.open(record.output.blake3) as f, \
                open_image(f, max_pixels=100_000_000) as im:
            thumb = im.convert("RGB")
            thumb.thumbnail((THUMB, THUMB))
            return thumb
    except ImageUnreadable:
        return None


def contact_sheet(repo: Repository, target: Record, items: Sequence[tuple[str, Record]],
                  dest: Path) -> Path:
    """Write the sheet of ``target`` (labelled ``target``) and ``items`` to ``dest``."""
    cells = [("target", target), *items]
    thumbs = [(label, record, _thumbnail(repo, record)) for label, record in cells]
    if dest.suffix.lower() in (".html", ".htm"):
        data = _html(target, thumbs).encode()
    else:
        data = _image(thumbs, dest.suffix.lower().lstrip(".") or "png")
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(dest, data, tmp_dir=dest.parent, mode=0o644)
    return dest


def _html(target: Record, thumbs: list[tuple[str, Record, object | None]]) -> str:
    figures = []
    for label, record, thumb in thumbs:
        img = ""
        if thumb is not None:
            out = io.BytesIO()
            thumb.save(out, format="PNG")  # type: ignore[attr-defined]
            img = (f'<img src="data:image/png;base64,{base64.b64encode(out.getvalue()).decode()}"'
                   f' alt="{html.escape(label)}">')
        figures.append(f"<figure>{img}<figcaption><b>{html.escape(label)}</b><br>"
                       f"<code>{record.id[:12]}</code> {html.escape(record.output.path or '')}"
                       "</figcaption></figure>")
    return ("<!doctype html><meta charset=utf-8><title>variations of "
            f"{target.id[:12]}</title><style>body{{font-family:sans-serif}}figure{{display:"
            "inline-block;margin:6px;text-align:center;max-width:260px}}img{{max-width:256px;"
            "max-height:256px}}</style>"
            f"<h1>variations of {html.escape(target.output.path or target.id)}</h1>"
            + "".join(figures) + "\n")


def _image(thumbs: list[tuple[str, Record, object | None]], fmt: str) -> bytes:
    from PIL import Image, ImageDraw

    cols = min(len(thumbs), 5)
    rows = -(-len(thumbs) // cols)
    sheet = Image.new("RGB", (cols * THUMB, rows * (THUMB + LABEL_HEIGHT)), "white")
    draw = ImageDraw.Draw(sheet)
    for n, (label, _record, thumb) in enumerate(thumbs):
        x, y = (n % cols) * THUMB, (n // cols) * (THUMB + LABEL_HEIGHT)
        if thumb is not None:
            w, h = thumb.size  # type: ignore[attr-defined]
            sheet.paste(thumb, (x + (THUMB - w) // 2, y + (THUMB - h) // 2))  # type: ignore[arg-type]
        draw.text((x + 4, y + THUMB + 3), label[:40], fill="black")
    out = io.BytesIO()
    sheet.save(out, format={"jpg": "JPEG"}.get(fmt, fmt.upper()))
    return out.getvalue()
