"""The A1111 infotext grammar and its normalisation."""

from __future__ import annotations

import pytest

from repro.capture.a1111 import a1111_defaults, parse_a1111, split_infotext


def _model(gen, role, name=None):  # type: ignore[no-untyped-def]
    found = [m for m in gen.models if m.role == role and (name is None or m.name == name)]
    assert len(found) == 1, [m.to_dict() for m in gen.models]
    return found[0]


def test_minimal_infotext_typed() -> None:
    gen = parse_a1111("photo of a duck\nNegative prompt: monochrome\nSteps: 15, Sampler: UniPC, "
                      "CFG scale: 5, Seed: 235284042, Size: 512x400, Model hash: c0d1994c73, "
                      "Model: realistic_realisticVisionV20_v20")
    p = gen.params
    assert (p["prompt"], p["negative_prompt"]) == ("photo of a duck", "monochrome")
    assert p["steps"] == 15 and isinstance(p["steps"], int)
    assert p["cfg"] == 5.0 and isinstance(p["cfg"], float)
    assert (p["width"], p["height"], p["sampler"]) == (512, 400, "UniPC")
    ckpt = _model(gen, "checkpoint", "realistic_realisticVisionV20_v20")
    assert ckpt.hashes == {"sha256": "c0d1994c73"}
    assert gen.tool == "a1111" and gen.level == "full"
    # Defaults of absent keys are not invented.
    assert "clip_skip" not in p and "rng" not in p and "scheduler" not in p


def test_multiline_prompt_and_negative() -> None:
    info = split_infotext("line one\nline two\nNegative prompt: bad\nworse\n"
                          "Steps: 1, Seed: 2, Sampler: Euler")
    assert info.prompt == "line one\nline two"
    assert info.negative_prompt == "bad\nworse"


def test_last_line_with_fewer_than_three_pairs_is_prompt() -> None:
    info = split_infotext("a cat\nstyle: oil, mood: calm")
    assert info.prompt == "a cat\nstyle: oil, mood: calm"
    assert info.pairs == {}
    assert info.negative_prompt is None


def test_quoted_values_with_commas_colons_and_newlines() -> None:
    gen = parse_a1111(
        '1girl, <lora:LCM_15:1>, <lora:ip-adapter-faceid:0.6>\n'
        'Negative prompt: MajicNegative_V2,badhandv4,\n'
        'Steps: 6, Sampler: LCM, Schedule type: Automatic, CFG scale: 1.5, Seed: 3748719078, '
        'Size: 768x1024, Model hash: 19bbe9faa4, Model: fantasticmix_k2, VAE hash: 07af11b95c, '
        'VAE: vae-ft-mse-840000-ema-pruned.safetensors, Clip skip: 2, '
        'Lora hashes: "LCM_15: aaebf6360f7d, ip-adapter-faceid: a95a0f4bdcb9", '
        'TI hashes: "MajicNegative_V2: a53884ef726b, badhandv4: 5e40d722fc3d", '
        'ADetailer prompt: "a face, smiling\\nline: two", Version: v1.9.4')
    p = gen.params
    assert p["scheduler"] == "Automatic" and p["clip_skip"] == 2
    assert p["extra"]["ADetailer prompt"] == "a face, smiling\nline: two"
    lcm = _model(gen, "lora", "LCM_15")
    assert lcm.strength == 1.0 and lcm.hashes == {"tensor_sha256": "aaebf6360f7d"}
    face = _model(gen, "lora", "ip-adapter-faceid")
    assert face.strength == 0.6 and face.hashes == {"tensor_sha256": "a95a0f4bdcb9"}
    assert _model(gen, "embedding", "badhandv4").hashes == {"sha256": "5e40d722fc3d"}
    assert _model(gen, "vae").hashes == {"sha256": "07af11b95c"}
    assert (gen.tool, gen.tool_version) == ("a1111", "v1.9.4")


def test_unquoted_hashes_json_and_civitai_resources() -> None:
    gen = parse_a1111(
        'a house\nSteps: 20, Sampler: Euler, Seed: 1, Hashes: {"vae": "c6a580b13a", '
        '"model": "c0d1994c73", "lora:detail, tweaker": "0123456789", "embed:easyneg": '
        '"abcdefabcd"}, Civitai resources: [{"type": "checkpoint", "modelVersionId": 12}], '
        'Version: v1.10.1')
    extra = gen.params["extra"]
    assert extra["Hashes"]["model"] == "c0d1994c73"
    assert extra["Civitai resources"] == [{"type": "checkpoint", "modelVersionId": 12}]
    assert extra["Version"] == "v1.10.1"
    assert _model(gen, "checkpoint").hashes == {"sha256": "c0d1994c73"}
    assert _model(gen, "vae").hashes == {"sha256": "c6a580b13a"}
    assert _model(gen, "lora", "detail, tweaker").hashes == {"sha256": "0123456789"}
    assert _model(gen, "embedding", "easyneg").hashes == {"sha256": "abcdefabcd"}


@pytest.mark.parametrize("seed", [2**53 + 1, 2**64 - 1, 18446744073709551615])
def test_big_seeds_stay_exact(seed: int) -> None:
    gen = parse_a1111(f"x\nSteps: 1, Sampler: Euler, Seed: {seed}")
    assert gen.params["seed"] == seed
    quoted = parse_a1111(f'x\nSteps: 1, Sampler: Euler, Seed: "{seed}"')
    assert quoted.params["seed"] == seed


def test_hash_lengths_and_hash_only_checkpoint() -> None:
    old = parse_a1111("x\nSteps: 1, Seed: 5, Model hash: 2c02b20a")
    ckpt = _model(old, "checkpoint")
    assert ckpt.name is None and ckpt.hashes == {"autov1": "2c02b20a"}
    assert old.level == "full"  # hashed is enough to identify it
    saver = parse_a1111('x\nSteps: 1, Seed: 5, Lora hashes: "detail: 1234567890", '
                        'Version: ComfyUI, Hashes: {"Model:flux1-dev-fp8": "8e91b68084", '
                        '"model": "8e91b68084"}')
    assert saver.tool == "comfyui" and saver.tool_version is None
    assert _model(saver, "checkpoint", "flux1-dev-fp8").hashes == {"sha256": "8e91b68084"}
    assert _model(saver, "lora", "detail").hashes == {"sha256": "1234567890"}


def test_forge_modules_and_sdnext() -> None:
    forge = parse_a1111("x\nSteps: 20, Seed: 3, Sampler: Euler, Model: flux1-dev, "
                        "Module 1: ae.safetensors, Module 2: t5xxl_fp16.safetensors, "
                        "Version: f2.0.1v1.10.1-previous-544-g86d00326")
    assert forge.tool == "forge"
    assert forge.tool_version == "f2.0.1v1.10.1-previous-544-g86d00326"
    assert _model(forge, "vae", "ae.safetensors").hashes == {}
    assert _model(forge, "text_encoder", "t5xxl_fp16.safetensors")
    sdnext = parse_a1111("x\nNegative prompt: \nSteps: 20, Seed: 3, App: SD.Next, "
                         "Version: 0c7038e, Model: sdxl")
    assert (sdnext.tool, sdnext.tool_version) == ("sdnext", "0c7038e")
    assert sdnext.params["negative_prompt"] == ""


def test_init_image_and_denoise_and_rng() -> None:
    gen = parse_a1111("x\nSteps: 20, Seed: 3, Model: m, Denoising strength: 0.45, RNG: CPU, "
                      "Init image hash: 0f1e2d3c, Batch size: 4")
    assert gen.params["denoise"] == 0.45
    assert gen.params["rng"] == "CPU" and gen.params["batch_size"] == 4
    assert [i.to_dict() for i in gen.inputs] == [
        {"role": "init_image", "hashes": {"sha256": "0f1e2d3c"}}]


def test_levels_and_reasons() -> None:
    random_seed = parse_a1111("x\nSteps: 20, Seed: -1, Model: m, Sampler: Euler")
    assert random_seed.level == "partial"
    assert any("-1" in r for r in random_seed.reasons)
    no_model = parse_a1111("x\nSteps: 20, Seed: 4, Sampler: Euler")
    assert no_model.level == "partial"
    assert any("checkpoint" in r for r in no_model.reasons)


def test_defaults_helper_lists_reader_defaults() -> None:
    defaults = a1111_defaults()
    assert defaults["clip_skip"] == 1
    assert defaults["rng"] == "GPU"
    assert defaults["scheduler"] == "Automatic"
    assert defaults["Masked area padding"] == 32
    defaults["clip_skip"] = 99  # a fresh dict each call
    assert a1111_defaults()["clip_skip"] == 1


def test_unparseable_canonical_value_kept_verbatim_with_warning() -> None:
    gen = parse_a1111("x\nSteps: many, Seed: 4, Sampler: Euler, Model: m")
    assert "steps" not in gen.params
    assert gen.params["extra"]["Steps"] == "many"
    assert gen.warnings
