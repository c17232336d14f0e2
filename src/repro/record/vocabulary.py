"""The words a record may use: tools, model and input roles, parent relations,
levels, metadata kinds, and the canonical parameter names (DESIGN.md).

A leaf: it imports nothing from repro.
"""

from __future__ import annotations

#: Tool names of the record schema. ``unknown``: metadata whose maker is not known.
TOOLS = (
    "comfyui", "a1111", "forge", "reforge", "sdnext", "invokeai", "novelai", "fooocus",
    "swarmui", "drawthings", "easydiffusion", "midjourney", "dalle", "firefly", "diffusers",
    "unknown",
)

#: The AUTOMATIC1111 family: one infotext format, one install layout.
A1111_TOOLS = ("a1111", "forge", "reforge", "sdnext")

#: Reproducibility levels, best first.
LEVELS = ("full", "approximate", "partial", "none")

#: What kind of metadata a file carried.
METADATA_KINDS = ("execution", "workflow-only", "provenance-only", "none")

#: Model roles of the record schema.
MODEL_ROLES = (
    "checkpoint", "unet", "vae", "text_encoder", "lora", "hypernetwork", "embedding",
    "controlnet", "upscaler", "clip_vision", "ip_adapter", "style_model", "detector",
    "face_restorer", "config", "other",
)

#: How a parent relates to its child: ``input`` (img2img source, LoadImage
#: image, found by its bytes), ``given`` (``--parent``), ``rerun-of`` and
#: ``variation-of`` (made by ``repro rerun`` / ``repro vary``).
RELATIONS = ("input", "given", "rerun-of", "variation-of")

#: Canonical parameter names shared by every tool (A1111's ``CFG scale``,
#: ComfyUI's ``cfg`` and InvokeAI's ``cfg_scale`` are all ``cfg``).
PARAMS = (
    "prompt", "negative_prompt", "seed", "subseed", "subseed_strength", "steps", "cfg",
    "sampler", "scheduler", "width", "height", "denoise", "clip_skip", "batch_size",
    "batch_index", "rng",
)

#: Usual parameter names and the ComfyUI node inputs that carry them (an output's
#: parameters hold every input as ``NODE.INPUT``, and these also by usual name).
USUAL_INPUTS = {"seed": ("seed", "noise_seed"), "steps": ("steps",), "cfg": ("cfg",),
                "sampler": ("sampler_name",), "scheduler": ("scheduler",),
                "denoise": ("denoise",), "width": ("width",), "height": ("height",)}

#: Keys of one sampling stage in ``params.samplers``.
STAGE_KEYS = ("node", "class_type", "seed", "steps", "cfg", "sampler", "scheduler",
              "denoise", "start", "end")

#: How the name of a model file ends (ComfyUI's PyTorch and safetensors
#: extensions, GGUF and ONNX), and of a model config. Readers use them to tell
#: a model named in a graph from other text, model roots to find files.
MODEL_EXTENSIONS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft", ".onnx")
CONFIG_EXTENSIONS = (".yaml", ".yml")

#: Model roles whose files are usually trained against a base checkpoint.
ADAPTER_ROLES = ("lora", "hypernetwork", "embedding", "controlnet")


def worst_level(*levels: str) -> str:
    """The lowest of the given levels (``full`` if none given)."""
    return max(levels, key=LEVELS.index, default="full")
