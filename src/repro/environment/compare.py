"""Which differences between a recorded and a current environment change outputs.

Why these and not others, measured on an H100 (fixture
``gpu-env-h100/determinism.txt``):

- ``torch.randn`` with seed 1234 from a CPU generator and from a CUDA
  generator differ by up to 6.13: the same seed is entirely different noise.
  Where noise is drawn decides whether the GPU model matters for the image
  as a whole, not just in the last bits.
- An fp32 matmul differs from fp64 by 4.3e-4 with TF32 off and by 7.1e-2
  with TF32 on: kernel choices (PyTorch, CUDA, cuDNN versions, the GPU
  architecture, attention backends, determinism flags) change results.
- The same fp16 matmul twice on one GPU was bitwise equal: on an unchanged
  stack a generation does repeat, so a difference found here is worth
  reporting.

Python patch versions, the OS and the CPU model are reported with
``changes_output: False``: they are facts a person may want, not causes.
A value missing on either side is unknown and yields no difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Packages whose version can change pixels (kernels, attention, samplers, model code).
OUTPUT_PACKAGES = frozenset({
    "torchvision", "xformers", "triton", "diffusers", "transformers", "spandrel",
    "k-diffusion", "open-clip-torch", "sageattention", "flash-attn", "torchsde",
    "nvidia-cublas", "nvidia-cublas-cu12", "nvidia-cudnn-cu11", "nvidia-cudnn-cu12",
    "nvidia-cudnn-cu13", "onnxruntime", "onnxruntime-gpu", "compel", "peft", "gguf",
    "bitsandbytes", "invokeai",
})


#: ComfyUI launch flags that change numerics: device, precision, attention, determinism.
#: Network, folder and UI flags (--listen, --port, --output-directory...) do not.
_COMFYUI_OUTPUT_FLAG_PREFIXES = (
    "--cpu", "--force-fp", "--fp8", "--fp16", "--fp32", "--fp64", "--bf16",
    "--force-upcast-attention", "--dont-upcast-attention", "--use-split-cross-attention",
    "--use-quad-cross-attention", "--use-pytorch-cross-attention", "--use-sage-attention",
    "--use-flash-attention", "--disable-xformers", "--deterministic", "--fast",
    "--directml", "--force-channels-last", "--cuda-malloc", "--disable-cuda-malloc",
)


def output_flags(argv: list[str]) -> list[str]:
    """The launch flags in ``argv`` (ComfyUI's, from ``/system_stats``) that change outputs."""
    return sorted({a.split("=")[0] for a in argv
                   if isinstance(a, str) and a.startswith(_COMFYUI_OUTPUT_FLAG_PREFIXES)})


def _diff(key: str, recorded: Any, current: Any, reason: str, changes: bool) -> dict[str, Any]:
    return {"key": key, "recorded": recorded, "current": current, "reason": reason,
            "changes_output": changes}


def _get(env: Mapping[str, Any], *path: str) -> Any:
    value: Any = env
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _gpu_names(env: Mapping[str, Any]) -> list[str] | None:
    gpus = env.get("gpu")
    if not isinstance(gpus, list):
        return None
    return [g.get("name", "?") for g in gpus
            if isinstance(g, Mapping) and g.get("type", "cuda") != "cpu"]


def _gpu_archs(env: Mapping[str, Any]) -> list[str]:
    out = []
    for g in env.get("gpu") or []:
        if isinstance(g, Mapping):
            arch = g.get("architecture") or g.get("compute_capability")
            if arch:
                out.append(str(arch))
    return out


def _compare_gpu(recorded: Mapping[str, Any], current: Mapping[str, Any],
                 noise: str | None) -> list[dict[str, Any]]:
    before, after = _gpu_names(recorded), _gpu_names(current)
    if before is None or after is None or before == after:
        return []
    archs = (_gpu_archs(recorded), _gpu_archs(current))
    arch_note = ""
    if archs[0] and archs[1] and archs[0] != archs[1]:
        arch_note = f" (architecture {', '.join(archs[0])} -> {', '.join(archs[1])})"
    if noise == "gpu":
        return [_diff("gpu", before, after,
                      f"another GPU{arch_note}: the initial noise was drawn on the GPU, so the "
                      "same seed gives different noise", True)]
    where = {"cpu": "the noise was drawn on the CPU", "nv": "the noise used the NV (CPU) "
             "generator"}.get(noise or "", "where the noise was drawn is unknown")
    return [_diff("gpu", before, after,
                  f"another GPU{arch_note}; {where}, so the seed gives the same noise, "
                  "but kernels may differ in the last bits", False)]


def _compare_value(out: list[dict[str, Any]], key: str, before: Any, after: Any,
                   reason: str, changes: bool) -> None:
    if before is None or after is None or before == after:
        return
    out.append(_diff(key, before, after, reason, changes))


def _compare_python(out: list[dict[str, Any]], before: Any, after: Any) -> None:
    if not isinstance(before, str) or not isinstance(after, str) or before == after:
        return
    same_minor = before.split(".")[:2] == after.split(".")[:2]
    reason = ("Python patch version differs" if same_minor
              else "Python version differs (packages may resolve to other versions)")
    out.append(_diff("python", before, after, reason, False))


def _plugins(env: Mapping[str, Any], key: str) -> dict[str, Mapping[str, Any]] | None:
    items = env.get(key)
    if not isinstance(items, list):
        return None
    return {p["name"]: p for p in items if isinstance(p, Mapping) and isinstance(p.get("name"), str)}


def _compare_plugins(out: list[dict[str, Any]], recorded: Mapping[str, Any],
                     current: Mapping[str, Any], key: str, noun: str) -> None:
    before, after = _plugins(recorded, key), _plugins(current, key)
    if before is None or after is None:
        return
    for name, rec in sorted(before.items()):
        if rec.get("disabled"):
            continue
        cur = after.get(name)
        k = f"{key}.{name}"
        # ``used: false``: the output ran none of the package's node classes (the
        # server's /object_info said where each class comes from).
        matters = rec.get("used") is not False
        unused = "" if matters else "; the output ran none of its nodes"
        if cur is None or cur.get("disabled"):
            state = "missing" if cur is None else "disabled"
            out.append(_diff(k, rec.get("commit", "present"), state,
                             f"{noun} {name} is {state} now{unused}", matters))
            continue
        if rec.get("commit") and cur.get("commit") and rec["commit"] != cur["commit"]:
            out.append(_diff(k, rec["commit"], cur["commit"],
                             f"{noun} {name} is at another commit{unused}", matters))
        elif rec.get("blake3") and cur.get("blake3") and rec["blake3"] != cur["blake3"]:
            out.append(_diff(k, rec["blake3"], cur["blake3"],
                             f"{noun} {name} has changed{unused}", matters))
        elif cur.get("dirty") and not rec.get("dirty"):
            out.append(_diff(k, "clean", "dirty",
                             f"{noun} {name} has local changes now{unused}", matters))
        elif rec.get("dirty"):
            out.append(_diff(k, "dirty", "dirty" if cur.get("dirty") else "clean",
                             f"{noun} {name} had local changes when recorded; "
                             f"they cannot be compared{unused}", matters))
    for name, cur in sorted(after.items()):
        if name not in before and not cur.get("disabled"):
            out.append(_diff(f"{key}.{name}", "absent", cur.get("commit", "present"),
                             f"{noun} {name} was not installed when recorded "
                             "(it may patch samplers or models)", False))


def compare_environments(
    recorded: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    noise_device: str | None = None,
) -> list[dict[str, Any]]:
    """Differences between two ``environment`` dicts (as ``current_environment`` makes).

    Returns ``[{"key", "recorded", "current", "reason", "changes_output"}]``,
    output-changing ones first. ``noise_device`` is where the generation drew
    its noise (``comfyui_server.noise_device``): with ``"gpu"`` another GPU
    changes the image; otherwise a GPU difference is reported as a note.
    """
    out: list[dict[str, Any]] = []
    out.extend(_compare_gpu(recorded, current, noise_device))
    _compare_value(out, "torch", _get(recorded, "torch", "version"),
                   _get(current, "torch", "version"),
                   "another PyTorch version: kernels and defaults change results", True)
    _compare_value(out, "cuda", recorded.get("cuda", _get(recorded, "torch", "cuda")),
                   current.get("cuda", _get(current, "torch", "cuda")),
                   "PyTorch built for another CUDA version: other GPU kernels", True)
    _compare_value(out, "cudnn", recorded.get("cudnn", _get(recorded, "torch", "cudnn")),
                   current.get("cudnn", _get(current, "torch", "cudnn")),
                   "another cuDNN version: other convolution algorithms", True)
    determinism_r, determinism_c = recorded.get("determinism"), current.get("determinism")
    if isinstance(determinism_r, Mapping) and isinstance(determinism_c, Mapping):
        for flag in sorted(set(determinism_r) & set(determinism_c)):
            _compare_value(out, f"determinism.{flag}", determinism_r[flag], determinism_c[flag],
                           f"{flag} differs (TF32 alone moves fp32 matmuls by ~0.07)", True)
    _compare_value(out, "tool", recorded.get("tool"), current.get("tool"),
                   "made with another tool", True)
    _compare_value(out, "tool_version", recorded.get("tool_version"),
                   current.get("tool_version"), "another version of the tool", True)
    _compare_value(out, "tool_commit", recorded.get("tool_commit"),
                   current.get("tool_commit"), "the tool is at another commit", True)
    if current.get("tool_dirty") or recorded.get("tool_dirty"):
        out.append(_diff("tool_dirty", recorded.get("tool_dirty"), current.get("tool_dirty"),
                         "the tool's folder has local changes, so its code is not "
                         "exactly a known commit", True))
    argv_r, argv_c = recorded.get("argv"), current.get("argv")
    if isinstance(argv_r, list) and isinstance(argv_c, list):
        _compare_value(out, "argv", output_flags(argv_r), output_flags(argv_c),
                       "the tool was started with other precision, attention or device "
                       "flags", True)
    _compare_plugins(out, recorded, current, "custom_nodes", "custom node")
    _compare_plugins(out, recorded, current, "extensions", "extension")
    packages_r, packages_c = recorded.get("packages"), current.get("packages")
    # No packages at all on one side means they were not found (a tool runs in some
    # Python): unknown, never "every package absent".
    if isinstance(packages_r, Mapping) and isinstance(packages_c, Mapping) and packages_r \
            and packages_c:
        for name in sorted(set(packages_r) | set(packages_c)):
            if name == "torch":
                continue
            before, after = packages_r.get(name, "absent"), packages_c.get(name, "absent")
            if before == after:
                continue
            changes = name in OUTPUT_PACKAGES
            reason = (f"{name} {before} -> {after}" + (": it takes part in generating"
                      if changes else ": not known to change outputs"))
            out.append(_diff(f"packages.{name}", before, after, reason, changes))
    _compare_value(out, "driver", recorded.get("driver"), current.get("driver"),
                   "another NVIDIA driver (kernels ship with PyTorch; rarely matters)", False)
    _compare_python(out, _get(recorded, "python", "version"), _get(current, "python", "version"))
    for key in ("system", "release", "distro"):
        _compare_value(out, f"os.{key}", _get(recorded, "os", key), _get(current, "os", key),
                       "another operating system or kernel", False)
    _compare_value(out, "cpu", _get(recorded, "cpu", "model"), _get(current, "cpu", "model"),
                   "another CPU model", False)
    out.sort(key=lambda d: not d["changes_output"])
    return out
