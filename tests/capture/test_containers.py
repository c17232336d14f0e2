"""Containers: where metadata hides in PNG, JPEG, WebP and GIF files, and its traps."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from repro.capture import read_bytes, read_file
from repro.capture.exif import decode_user_comment, parse_tiff
from repro.errors import NotAnImage, TruncatedFile
from tests.capture import builders as b

INFOTEXT = ("a red fox, autumn\nNegative prompt: blurry\n"
            "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x768, "
            "Model hash: 0123456789, Model: dreamshaper_8")


def test_png_named_jpeg_is_read_as_png(tmp_path: Path) -> None:
    path = tmp_path / "really_a_png.jpeg"
    path.write_bytes(b.png([b.text("parameters", INFOTEXT)], size=(7, 5)))
    gen = read_file(path)
    assert gen.media_type == "image/png"
    assert (gen.width, gen.height) == (7, 5)
    assert gen.format == "a1111-png"
    assert gen.params["seed"] == 1234


def test_text_after_idat_is_found() -> None:
    gen = read_bytes(b.png(after=[b.ztxt("parameters", INFOTEXT.encode())]))
    assert gen.tool == "a1111"
    assert gen.params["prompt"] == "a red fox, autumn"
    assert gen.blobs["parameters"] == INFOTEXT.encode()


def test_latin1_text_and_utf8_itxt() -> None:
    latin = "café crème\nSteps: 1, Seed: 2, Sampler: Euler"
    gen = read_bytes(b.png([b.text("parameters", latin)]))
    assert gen.params["prompt"] == "café crème"
    assert gen.blobs["parameters"] == latin.encode("latin-1")  # verbatim bytes
    cjk = "狐 🦊\nSteps: 1, Seed: 2, Sampler: Euler"
    for compressed in (False, True):
        gen = read_bytes(b.png([b.itxt("parameters", cjk, compressed=compressed)]))
        assert gen.params["prompt"] == "狐 🦊"


def test_pillow_written_text_roundtrip() -> None:
    info = PngInfo()
    info.add_text("parameters", INFOTEXT)
    info.add_text("Comment", "ünïcödé ✓")  # Pillow switches to iTXt for this one
    gen = read_bytes(b.save(Image.new("RGB", (9, 4)), "PNG", pnginfo=info))
    assert gen.params["seed"] == 1234
    assert (gen.width, gen.height) == (9, 4)
    assert gen.blobs["Comment"] == "ünïcödé ✓".encode()


def test_comf_private_chunk_after_idat() -> None:
    prompt = {"3": {"class_type": "KSampler", "inputs": {
        "seed": 7, "steps": 4, "cfg": 2.0, "sampler_name": "euler", "scheduler": "normal",
        "denoise": 1.0, "model": ["4", 0]}},
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "m.safetensors"}}}
    data = b.png(after=[b.chunk(b"comf", b"prompt\0" + json.dumps(prompt).encode())])
    gen = read_bytes(data)
    assert gen.tool == "comfyui"
    assert gen.format == "comfyui-png"
    assert "prompt" in gen.blobs


@pytest.mark.parametrize(("order", "charset"), [("MM", "unicode-be"), ("II", "unicode-le"),
                                                 ("II", "unicode-be"), ("MM", "unicode-le")])
def test_jpeg_usercomment_utf16_both_orders(order: str, charset: str) -> None:
    text = INFOTEXT.replace("fox", "fox ✓")
    blob = b.tiff({}, {0x9286: (b.UNDEFINED, b.user_comment(text, charset))}, order=order)
    gen = read_bytes(b.jpeg(b.app1_exif(blob), size=(10, 3)))
    assert gen.format == "a1111-exif"
    assert gen.params["prompt"] == "a red fox ✓, autumn"
    assert (gen.width, gen.height) == (10, 3)
    assert gen.blobs["exif"].startswith(b"UNICODE\0")


def test_usercomment_prefixes() -> None:
    assert decode_user_comment(b"ASCII\0\0\0hello\0", "II") == "hello"
    assert decode_user_comment(b"\0" * 8 + b"plain", "II") == "plain"
    assert decode_user_comment("no prefix ✓".encode(), "MM") == "no prefix ✓"
    assert decode_user_comment(b"UNICODE\0\xff\xfeh\0i\0", "MM") == "hi"


def test_exif_ifd_loop_and_bad_offsets_are_bounded() -> None:
    # IFD0 whose Exif pointer points back at IFD0: visited once only.
    blob = bytearray(b"MM\0\x2a\0\0\0\x08")
    blob += struct.pack(">H", 1) + struct.pack(">HHII", 0x8769, 4, 1, 8) + b"\0\0\0\0"
    exif = parse_tiff(bytes(blob))
    assert exif.exif == {}
    # A UserComment whose value points past the blob is skipped.
    blob = bytearray(b"II\x2a\0\x08\0\0\0")
    blob += struct.pack("<H", 1) + struct.pack("<HHII", 0x9286, 7, 1000, 10_000) + b"\0" * 4
    assert parse_tiff(bytes(blob)).ifd0 == {}


def test_webp_exif_after_frames_comfyui_tags() -> None:
    prompt = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "a.ckpt"}}}
    workflow = {"nodes": [], "links": [], "version": 0.4}
    blob = b.tiff({0x0110: (b.ASCII, b"Prompt:" + json.dumps(prompt).encode() + b"\0"),
                   0x010F: (b.ASCII, b"WORKFLOW:" + json.dumps(workflow).encode() + b"\0")})
    for payload in (blob, b"Exif\0\0" + blob):
        gen = read_bytes(b.webp_animated_with_exif(payload))
        assert gen.media_type == "image/webp"
        assert (gen.width, gen.height) == (16, 12)
        assert gen.tool == "comfyui"
        assert gen.format == "comfyui-exif"
        assert json.loads(gen.blobs["prompt"]) == prompt
        assert json.loads(gen.blobs["workflow"]) == workflow


def test_webp_sizes_from_vp8_and_vp8l() -> None:
    lossy = read_bytes(b.save(Image.new("RGB", (33, 17)), "WEBP", quality=50))
    lossless = read_bytes(b.save(Image.new("RGBA", (21, 9)), "WEBP", lossless=True))
    assert (lossy.width, lossy.height) == (33, 17)
    assert (lossless.width, lossless.height) == (21, 9)
    assert lossy.metadata == "none"


def _stealth_png(payload: bytes, magic: str) -> bytes:
    return b.save(b.stealth_image(payload, magic))


@pytest.mark.parametrize("magic", ["stealth_pnginfo", "stealth_pngcomp",
                                   "stealth_rgbinfo", "stealth_rgbcomp"])
def test_stealth_alpha_and_rgb(magic: str) -> None:
    payload = INFOTEXT.encode()
    hidden = gzip.compress(payload) if magic.endswith("comp") else payload
    gen = read_bytes(_stealth_png(hidden, magic))
    assert gen.format == "a1111-stealth"
    assert gen.params["seed"] == 1234
    assert gen.blobs["stealth"] == payload


def test_stealth_in_lossless_webp() -> None:
    image = b.stealth_image(INFOTEXT.encode(), "stealth_pnginfo")
    gen = read_bytes(b.save(image, "WEBP", lossless=True))
    assert gen.params["seed"] == 1234


def test_stealth_not_tried_when_disabled_or_other_metadata() -> None:
    data = _stealth_png(INFOTEXT.encode(), "stealth_pnginfo")
    assert read_bytes(data, stealth=False).metadata == "none"
    image = b.stealth_image(INFOTEXT.encode(), "stealth_pnginfo")
    info = PngInfo()
    info.add_text("parameters", "other prompt\nSteps: 3, Seed: 9, Sampler: DDIM")
    gen = read_bytes(b.save(image, "PNG", pnginfo=info))
    assert gen.params["seed"] == 9
    assert "stealth" not in gen.blobs


def test_sidecar_txt_only_when_image_has_nothing(tmp_path: Path) -> None:
    image = tmp_path / "img.png"
    image.write_bytes(b.png())
    (tmp_path / "img.txt").write_text(INFOTEXT)
    gen = read_file(image)
    assert gen.format == "a1111-sidecar"
    assert gen.params["seed"] == 1234
    assert read_file(image, sidecar=False).metadata == "none"
    image.write_bytes(b.png([b.text("parameters", "x\nSteps: 1, Seed: 5, Sampler: Euler")]))
    assert read_file(image).params["seed"] == 5


def test_jpeg_xmp_comment_and_gif_comment() -> None:
    xmp = b.xmp_packet('<dc:description><rdf:Alt><rdf:li xml:lang="x-default">'
                       "a castle --v 6 --ar 16:9</rdf:li></rdf:Alt></dc:description>")
    gen = read_bytes(b.jpeg(b.segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0" + xmp.encode())))
    assert gen.tool == "midjourney"
    assert "xmp" in gen.blobs
    gen = read_bytes(b.jpeg(b.segment(0xFE, INFOTEXT.encode())))
    assert gen.format == "a1111-comment"
    gif = b.save(Image.new("P", (5, 4)), "GIF", comment=INFOTEXT.encode())
    gen = read_bytes(gif)
    assert (gen.media_type, gen.width, gen.height) == ("image/gif", 5, 4)
    assert gen.params["seed"] == 1234


def test_c2pa_in_png_cabx() -> None:
    store = b.c2pa_store("ChatGPT c2pa-rs/0.31", [{
        "action": "c2pa.created", "softwareAgent": {"name": "GPT-4o"},
        "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"}])
    gen = read_bytes(b.png([b.chunk(b"caBX", store)]))
    assert gen.tool == "dalle"
    assert gen.metadata == "provenance-only"
    assert gen.level == "none"
    c2pa = gen.provenance["c2pa"]
    assert c2pa["claim_generator"] == "ChatGPT c2pa-rs/0.31"
    assert c2pa["digital_source_type"].endswith("trainedAlgorithmicMedia")
    assert c2pa["actions"][0]["softwareAgent"] == "GPT-4o"
    assert gen.blobs["c2pa"] == store


def test_c2pa_actions_that_are_not_a_list_are_left_out() -> None:
    # Found by the fuzz test (test_hostile): "actions" as a number raised TypeError.
    for actions in (7, "c2pa.created", {"action": "c2pa.created"}):
        assertions = b.superbox("c2pa.assertions", b.superbox(
            "c2pa.actions.v2", b.box(b"cbor", b.cbor({"actions": actions}))))
        claim = b.superbox("c2pa.claim", b.box(b"cbor", b.cbor({"claim_generator": "Firefly"})))
        store = b.superbox("c2pa", b.superbox("urn:uuid:0000", assertions, claim))
        gen = read_bytes(b.png([b.chunk(b"caBX", store)]))
        assert gen.provenance["c2pa"]["claim_generator"] == "Firefly"
        assert gen.provenance["c2pa"]["actions"] == []


def test_c2pa_jpeg_app11_split_over_segments() -> None:
    store = b.c2pa_store("Adobe Firefly", [{"action": "c2pa.created"}])
    half = len(store) // 2
    first = b"JP" + struct.pack(">HI", 1, 1) + store[:half]
    second = b"JP" + struct.pack(">HI", 1, 2) + store[:8] + store[half:]
    gen = read_bytes(b.jpeg(b.segment(0xEB, first), b.segment(0xEB, second)))
    assert gen.tool == "firefly"
    assert gen.blobs["c2pa"] == store


def test_errors_for_empty_unknown_and_truncated(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(NotAnImage, match="empty file"):
        read_file(empty)
    with pytest.raises(NotAnImage, match="unknown file signature"):
        read_bytes(b"%PDF-1.7 not an image")
    whole = b.png([b.text("parameters", INFOTEXT)])
    with pytest.raises(TruncatedFile):
        read_bytes(whole[:30])  # ends inside IHDR/before any metadata


def test_truncated_after_metadata_keeps_it_with_a_warning() -> None:
    data = b.png([b.text("parameters", INFOTEXT)], iend=False)
    gen = read_bytes(data[:-10])  # cut inside IDAT, after the text chunk
    assert gen.params["seed"] == 1234
    assert any("truncated" in w for w in gen.warnings)
