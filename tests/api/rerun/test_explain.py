"""What a failed job or a refused prompt says, and how a difference is explained."""

from __future__ import annotations

from repro.api.rerun import explain_difference
from repro.comfyui.history import Failure
from repro.comfyui.submit import job_failed, missing_classes, refusal
from repro.record import ModelEntry, Output, Record, Tool


def test_a_refused_prompt_names_each_node_and_its_complaint() -> None:
    answer = {"error": {"type": "prompt_outputs_failed_validation",
                        "message": "Prompt outputs failed validation"},
              "node_errors": {"3": {"class_type": "UpscaleModelLoader", "errors": [
                  {"message": "Value not in list",
                   "details": "model_name: 'gone.safetensors' not in []"}]}}}
    assert refusal(answer, 400) == ("Prompt outputs failed validation; node 3 "
                                    "UpscaleModelLoader: model_name: 'gone.safetensors' not in []")
    assert refusal(None, 502) == "HTTP 502"


def test_a_failed_job_gets_the_hint_that_fits() -> None:
    oom = job_failed(Failure("CUDA out of memory. Tried to allocate 2.00 GiB", "3",
                             "KSampler"), "p1")
    assert oom.exit_code == 9 and "lower the size" in (oom.hint or "")
    assert "node 3 KSampler" in str(oom)
    missing = job_failed(Failure("Model in folder 'upscale_models' with filename 'x' not "
                                 "found."), "p2")
    assert "missing on the server" in (missing.hint or "")
    stopped = job_failed(Failure("interrupted"), "p3")
    assert "interrupted" in str(stopped)


def test_node_classes_the_server_lacks() -> None:
    graph = {"1": {"class_type": "LoadImage"}, "7": {"class_type": "Custom Thing (pack)"}}
    assert missing_classes(graph, {"LoadImage": {}}) == [("7", "Custom Thing (pack)")]


def _record(model: str, env: dict[str, object]) -> Record:
    return Record(output=Output(blake3="0" * 64), tool=Tool("comfyui", "0.3.64"),
                  models=(ModelEntry("upscaler", "x.safetensors", blake3=model),),
                  environment=env)


def test_a_difference_is_explained_by_what_differs_between_the_two_records() -> None:
    before = _record("a" * 64, {"tool": "comfyui", "torch": {"version": "2.14.1"},
                                "argv": ["main.py", "--cpu"], "tool_commit": "a125cd8"})
    after = _record("b" * 64, {"tool": "comfyui", "torch": {"version": "2.15.0"},
                               "argv": ["main.py", "--cpu", "--force-fp16"],
                               "tool_commit": "ffff000"})
    text = "\n".join(explain_difference(before, after))
    assert "upscaler x.safetensors: another version was loaded" in text
    assert "PyTorch" in text and "2.15.0" in text
    assert "commit" in text
    assert "precision" in text
    same = explain_difference(before, before)
    assert same == ["no recorded difference explains it: the graph may use a non-deterministic "
                    "node, or a cached model served other weights"]
