"""Signed delivery copies (issue 19): `repro export --format c2pa` writes a new
file whose C2PA manifest the C2PA reference library validates, made from the
record; `repro inspect --c2pa` reads it back; the original is never touched."""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

import orjson
import pytest

from repro.demo import write_comfy_png
from repro.objects.hashing import hash_file
from tests.credentials.certs import make_chain
from tests.helpers import img2img_graph, make_output, run, run_json

pytest.importorskip("c2pa", reason="c2pa-python is not installed: pip install 'repro[c2pa]'")

Capsys = pytest.CaptureFixture[str]
TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
COMPOSITE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"


@pytest.fixture
def signed_project(project: Path, capsys: Capsys) -> tuple[Path, dict[str, str]]:
    """A base output and an img2img made from it (its input found in input/)."""
    base = make_output(project, "base.png", seed=1)
    (project / "input").mkdir(exist_ok=True)
    shutil.copy(base, project / "input" / "base.png")
    write_comfy_png(project / "outputs" / "child.png", img2img_graph(
        ckpt="base.safetensors", lora="style.safetensors", lora_strength=0.8, seed=2,
        prompt="a fox at dusk", load_image="base.png", denoise=0.6), pixel_seed=2)
    ids = {Path(r["path"]).name: r["id"] for r in run_json(
        capsys, "-C", project, "add", project / "outputs", "--no-env")["records"]}
    make_chain(project / "keys")
    return project, ids


def _export(capsys: Capsys, root: Path, target: str, out: str, *extra: str
            ) -> tuple[int, str, str]:
    return run(capsys, "-C", root, "export", target, "--format", "c2pa", "-o", out,
               "--cert", "keys/chain.pem", "--key", "keys/key.pem", *extra)


def test_signed_copy_validates_and_says_what_made_it(signed_project: tuple[Path, dict[str, str]],
                                                     capsys: Capsys) -> None:
    root, ids = signed_project
    original = hash_file(root / "outputs" / "child.png")
    code, _, err = _export(capsys, root, "outputs/child.png", "delivery/child.png")
    assert code == 0, err
    assert hash_file(root / "outputs" / "child.png") == original  # never modified
    [seen] = run_json(capsys, "-C", root, "inspect", "delivery/child.png", "--c2pa")
    c = seen["c2pa"]
    assert c["valid"] is True and c["changed_after_signing"] is False, c
    assert c["signer"]["common_name"] == "repro test signer"
    assert c["generator"] == ["repro 0.1.0"]
    assert c["digital_source_type"] == [COMPOSITE]  # made from the base output
    assert c["record"]["record"] == ids["child.png"]
    assert "params" not in c["record"]  # the recipe only when asked
    relations = sorted((i["relationship"], i["title"]) for i in c["ingredients"])
    assert ("parentOf", "base.png") in relations
    assert ("inputTo", "base.safetensors") in relations and ("inputTo", "style.safetensors") \
        in relations
    # The parent ingredient is the stored output itself; readers without C2PA get XMP.
    data = (root / "delivery" / "child.png").read_bytes()
    assert b'Iptc4xmpExt:DigitalSourceType="' + COMPOSITE.encode() in data
    # The pixels are the output's.
    from PIL import Image

    with Image.open(root / "delivery" / "child.png") as a, \
            Image.open(root / "outputs" / "child.png") as b:
        assert a.tobytes() == b.tobytes()


def test_txt2img_with_its_recipe(signed_project: tuple[Path, dict[str, str]],
                                 capsys: Capsys) -> None:
    root, ids = signed_project
    code, out, err = run(capsys, "-C", root, "export", ids["base.png"], "--format", "c2pa",
                         "-o", "base-signed.png", "--cert", "keys/chain.pem", "--key",
                         "keys/key.pem", "--recipe", "--json")
    assert code == 0, err
    assert orjson.loads(out)["path"].endswith("base-signed.png")
    [seen] = run_json(capsys, "-C", root, "inspect", "base-signed.png", "--c2pa")
    assert seen["c2pa"]["digital_source_type"] == [TRAINED]
    assert seen["c2pa"]["record"]["params"]["seed"] == 1


def test_a_change_after_signing_is_seen(signed_project: tuple[Path, dict[str, str]],
                                        capsys: Capsys) -> None:
    root, _ = signed_project
    assert _export(capsys, root, "outputs/base.png", "signed.png")[0] == 0
    data = (root / "signed.png").read_bytes()
    body = b"tEXtnote\x00added later"
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    at = data.rfind(b"IEND") - 4
    (root / "tampered.png").write_bytes(data[:at] + chunk + data[at:])
    code, out, err = run(capsys, "-C", root, "inspect", "tampered.png", "--c2pa", "--json")
    [seen] = orjson.loads(out)
    assert seen["c2pa"]["valid"] is False and seen["c2pa"]["changed_after_signing"] is True
    assert code == 1 and err == ("error: tampered.png: its C2PA manifest does not validate: "
                                 "the file was changed after signing\n")
    code, out, err = run(capsys, "-C", root, "inspect", "tampered.png", "signed.png", "--c2pa")
    assert code == 1 and "NOT valid, the file was changed after signing" in out
    assert out.count("c2pa      valid") == 1  # the untouched copy still validates
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        "error: tampered.png: its C2PA manifest does not validate: the file was changed "
        "after signing"]


def test_bad_keys_and_targets_are_one_line_errors(signed_project: tuple[Path, dict[str, str]],
                                                  capsys: Capsys) -> None:
    root, _ = signed_project
    code, _, err = run(capsys, "-C", root, "export", "outputs/base.png", "--format", "c2pa",
                       "-o", "x.png")
    assert code == 2 and "no signing certificate and key" in err
    make_chain(root / "other")
    code, _, err = run(capsys, "-C", root, "export", "outputs/base.png", "--format", "c2pa",
                       "-o", "x.png", "--cert", "keys/chain.pem", "--key", "other/key.pem")
    assert code == 4 and "refused to sign" in err and "Traceback" not in err
    assert not (root / "x.png").exists()
    (root / "exists.png").write_bytes(b"mine")
    code, _, err = _export(capsys, root, "outputs/base.png", "exists.png")
    assert code == 5 and (root / "exists.png").read_bytes() == b"mine"
    code, _, err = run(capsys, "-C", root, "export", "outputs/base.png", "--format", "c2pa",
                       "--cert", "keys/chain.pem", "--key", "keys/key.pem")
    assert code == 2 and "-o FILE" in err


def test_config_names_the_keys(signed_project: tuple[Path, dict[str, str]],
                               capsys: Capsys) -> None:
    root, _ = signed_project
    (root / ".reprorc").write_text('[c2pa]\ncert = "keys/chain.pem"\nkey = "keys/key.pem"\n')
    code, _, err = run(capsys, "-C", root, "export", "outputs/base.png", "--format", "c2pa",
                       "-o", "signed.png")
    assert code == 0, err
    [seen] = run_json(capsys, "-C", root, "inspect", "signed.png", "--c2pa")
    assert seen["c2pa"]["valid"] is True


def test_a_file_without_a_manifest(signed_project: tuple[Path, dict[str, str]],
                                   capsys: Capsys) -> None:
    root, _ = signed_project
    [seen] = run_json(capsys, "-C", root, "inspect", "outputs/base.png", "--c2pa")
    assert seen["c2pa"] == {"state": "none"}


@pytest.mark.parametrize(("name", "save"), [
    ("photo.jpg", {"format": "JPEG", "quality": 90}),
    ("lossy.webp", {"format": "WEBP", "quality": 80}),
    ("lossless.webp", {"format": "WEBP", "lossless": True}),
])
def test_jpeg_and_webp(signed_project: tuple[Path, dict[str, str]], capsys: Capsys,
                       name: str, save: dict[str, object]) -> None:
    from PIL import Image

    root, _ = signed_project
    image = Image.new("RGB", (48, 32), (20, 120, 200))
    image.save(root / "outputs" / name, **save)
    [rec] = run_json(capsys, "-C", root, "add", root / "outputs" / name, "--allow-empty",
                     "--no-env")["records"]
    code, _, err = _export(capsys, root, rec["id"], f"signed-{name}")
    assert code == 0, err
    [seen] = run_json(capsys, "-C", root, "inspect", f"signed-{name}", "--c2pa")
    assert seen["c2pa"]["valid"] is True and seen["c2pa"]["record"]["record"] == rec["id"]
    data = (root / f"signed-{name}").read_bytes()
    assert b"Iptc4xmpExt:DigitalSourceType" in data
    with Image.open(root / f"signed-{name}") as signed, Image.open(root / "outputs" / name) as o:
        assert signed.size == o.size and signed.tobytes() == o.tobytes()


def test_a_gif_cannot_carry_a_manifest(signed_project: tuple[Path, dict[str, str]],
                                       capsys: Capsys) -> None:
    from PIL import Image

    root, _ = signed_project
    Image.new("P", (8, 8)).save(root / "outputs" / "anim.gif")
    [rec] = run_json(capsys, "-C", root, "add", root / "outputs" / "anim.gif", "--allow-empty",
                     "--no-env")["records"]
    code, _, err = _export(capsys, root, rec["id"], "signed.gif")
    assert code == 4 and "cannot carry a C2PA manifest" in err.splitlines()[0]
    assert err.splitlines()[1].startswith("hint: C2PA export supports image/png")
    assert not (root / "signed.gif").exists()


def test_an_inputs_own_credentials_are_kept(project: Path, capsys: Capsys) -> None:
    """An input signed by another tool is an ingredient with its own manifest, which
    the library validates when it reads the delivered copy."""
    import io

    from PIL import Image

    from repro.credentials.c2pa_sign import sign

    chain, key = make_chain(project / "theirs", signer="other tool signer")
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "PNG")
    theirs = sign(buf.getvalue(), "image/png", {
        "claim_generator_info": [{"name": "othertool", "version": "2.0"}], "title": "red.png",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [
            {"action": "c2pa.created", "digitalSourceType": TRAINED}]}}]},
        [], cert_pem=chain.read_bytes(), key_pem=key.read_bytes())
    (project / "input").mkdir()
    (project / "input" / "red.png").write_bytes(theirs)
    write_comfy_png(project / "outputs" / "child.png", img2img_graph(
        ckpt="base.safetensors", lora=None, lora_strength=0.0, seed=2, prompt="a red fox",
        load_image="red.png", denoise=0.6), pixel_seed=2)
    run_json(capsys, "-C", project, "add", project / "outputs", "--no-env")
    make_chain(project / "keys")
    code, _, err = _export(capsys, project, "outputs/child.png", "delivery/child.png")
    assert code == 0, err
    assert (project / "input" / "red.png").read_bytes() == theirs  # never modified
    [seen] = run_json(capsys, "-C", project, "inspect", "delivery/child.png", "--c2pa")
    c = seen["c2pa"]
    assert c["valid"] is True and c["signer"]["common_name"] == "repro test signer"
    [red] = [i for i in c["ingredients"] if i["title"] == "red.png"]
    assert red["relationship"] == "componentOf" and red["has_manifest"] is True
    assert red["signer"] == "other tool signer" and red["generator"] == ["othertool 2.0"]
    assert red["valid"] is True and red["problems"] == []
    assert c["digital_source_type"] == [COMPOSITE]
    _, out, _ = run(capsys, "-C", project, "inspect", "delivery/child.png", "--c2pa")
    assert ("componentOf red.png (its own credentials: valid, signed by other tool signer, "
            "made by othertool 2.0)") in out


def test_an_output_gone_from_the_store(signed_project: tuple[Path, dict[str, str]],
                                       capsys: Capsys) -> None:
    from repro.api.repository import Repository

    root, ids = signed_project
    repo = Repository.discover(root)
    assert repo.store.remove([repo.load_record(ids["base.png"]).output.blake3]) == 1
    repo.close()
    code, out, err = _export(capsys, root, ids["base.png"], "signed.png")
    assert code == 3 and out == "" and not (root / "signed.png").exists()
    lines = err.splitlines()
    assert lines[0] == f"error: the output of record {ids['base.png'][:12]} is no longer in " \
                       "the store" and lines[1].startswith("hint: ") and len(lines) == 2


def test_a_certificate_the_library_refuses(signed_project: tuple[Path, dict[str, str]],
                                           capsys: Capsys) -> None:
    """An expired certificate, and one that names no extended key usage: the library
    refuses them; one line, exit 4, nothing written. A file that is no certificate
    at all, and a key file that is missing, likewise."""
    root, _ = signed_project
    make_chain(root / "expired", expired=True)
    make_chain(root / "any", any_use=True)
    for folder, why in (("expired", "not valid at time of signing"),
                        ("any", "the certificate is invalid")):
        code, _, err = run(capsys, "-C", root, "export", "outputs/base.png", "--format", "c2pa",
                           "-o", "x.png", "--cert", f"{folder}/chain.pem", "--key",
                           f"{folder}/key.pem")
        lines = err.splitlines()
        assert code == 4 and "refused to sign" in lines[0] and why in lines[0], err
        assert lines[1].startswith("hint: C2PA takes an end-entity") and len(lines) == 2
        assert not (root / "x.png").exists()
    code, _, err = run(capsys, "-C", root, "export", "outputs/base.png", "--format", "c2pa",
                       "-o", "x.png", "--cert", "keys/key.pem", "--key", "keys/key.pem")
    assert code == 4 and err.startswith("error: the certificate is not a PEM certificate\n")
    code, _, err = run(capsys, "-C", root, "export", "outputs/base.png", "--format", "c2pa",
                       "-o", "x.png", "--cert", "keys/chain.pem", "--key", "keys/nothing.pem")
    assert code == 4 and err.startswith("error: cannot read the key ") and "Traceback" not in err
    assert not (root / "x.png").exists()


def test_a_damaged_manifest_is_one_line(signed_project: tuple[Path, dict[str, str]],
                                        capsys: Capsys) -> None:
    """A manifest store whose bytes were damaged (the PNG chunk's CRC made right):
    that file is reported unreadable (exit 4), the others are read all the same."""
    root, _ = signed_project
    assert _export(capsys, root, "outputs/base.png", "signed.png")[0] == 0
    data = (root / "signed.png").read_bytes()
    at = data.index(b"caBX") - 4
    size = struct.unpack(">I", data[at:at + 4])[0]
    body = bytes(b ^ 0x5A if 40 <= i < 400 else b for i, b in enumerate(data[at + 8:at + 8 + size]))
    chunk = data[at:at + 4] + b"caBX" + body + struct.pack(">I", zlib.crc32(b"caBX" + body))
    (root / "damaged.png").write_bytes(data[:at] + chunk + data[at + 12 + size:])
    code, out, err = run(capsys, "-C", root, "inspect", "damaged.png", "signed.png", "--c2pa")
    assert code == 4 and "Traceback" not in err
    assert err.splitlines()[0].startswith("error: ") and "damaged.png: its C2PA manifest " \
        "cannot be read" in err.splitlines()[0]
    assert "c2pa      valid" in out  # the other file
