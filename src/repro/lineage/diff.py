"""What differs between two records: parameters, prompt words, model versions,
inputs, tool and environment.

Prompts are compared as weighted words, so ``(red:1.2)`` -> ``(red:1.3)``
reads as a weight change (not a removal and an addition) and ``<lora:x:0.8>``
as a LoRA tag with its weight. ComfyUI prompt graphs are compared node by node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from repro.lineage.params import flat_params

#: Extras (A1111 infotext keys) that other sections show already: the models by name
#: and hash, the tool's version, the size.
EXTRAS_SHOWN_ELSEWHERE = {"model", "model hash", "lora hashes", "ti hashes", "hashes", "vae",
                          "vae hash", "version", "size", "lora", "loras"}
#: Node text longer than this is shown as its changed words.
LONG_TEXT = 60
#: Compared word by word, apart from the other parameters.
_PROMPTS = ("prompt", "negative_prompt")

# A1111 attention syntax: ``(a b:1.2)`` sets a weight, ``(a)`` multiplies by
# 1.1, ``[a]`` divides by 1.1, ``\(`` is a literal parenthesis, ``<lora:x:0.8>``
# is an extra network with its weight.
_PROMPT_TOKEN = re.compile(
    r"<[^<>]{1,200}>|:\s*(-?\d+(?:\.\d+)?|-?\.\d+)\s*\)|[()\[\]]"
    r"|(?:\\[()\[\]\\]|[^\s,()\[\]<>:\\])+|[:\\]")
_EMPHASIS = 1.1
MAX_PROMPT_TERMS = 5000


def weighted_terms(text: str | None) -> list[tuple[str, float]]:
    """A prompt as ``(term, weight)`` pairs: words with their attention weight,
    extra networks as ``<lora:name>`` with theirs."""
    terms: list[list[Any]] = []
    frames: list[tuple[str, int, int]] = []
    text = text or ""
    for m in _PROMPT_TOKEN.finditer(text):
        if len(terms) >= MAX_PROMPT_TERMS:
            break
        tok = m.group(0)
        if tok in ("(", "["):
            frames.append((tok, len(terms), m.end()))
        elif m.group(1) is not None or tok == ")":
            if not frames or frames[-1][0] != "(":
                continue
            _, at, start = frames.pop()
            factor = float(m.group(1)) if m.group(1) is not None else _EMPHASIS
            for t in terms[at:]:
                t[1] *= factor
            _join_phrase(terms, at, text[start:m.start()])
        elif tok == "]":
            if frames and frames[-1][0] == "[":
                _, at, start = frames.pop()
                for t in terms[at:]:
                    t[1] /= _EMPHASIS
                _join_phrase(terms, at, text[start:m.start()])
        elif tok.startswith("<"):
            kind, _, rest = tok[1:-1].partition(":")
            name, _, weight = rest.partition(":")
            try:
                w = float(weight.split(":")[0]) if weight else 1.0
            except ValueError:
                w = 1.0
            terms.append([f"<{kind.strip().lower()}:{name.strip()}>", w])
        elif tok in (":", "\\"):
            continue
        else:
            terms.append([re.sub(r"\\(.)", r"\1", tok), 1.0])
    return [(t[0], round(t[1], 4)) for t in terms]


def _join_phrase(terms: list[list[Any]], at: int, inside: str) -> None:
    """``(golden hour:1.3)`` is one term, not two: the words of one group (no comma,
    no nested group or extra network in it) are joined into a phrase."""
    group = terms[at:]
    if len(group) < 2 or "," in inside or any(c in inside for c in "()[]<>"):
        return
    terms[at:] = [[" ".join(t[0] for t in group), group[0][1]]]


def _show(term: str, weight: float) -> str:
    if term.startswith("<"):
        return f"{term[:-1]}:{weight:g}>"
    return term if weight == 1.0 else f"({term}:{weight:g})"


def diff_words(a: str | None, b: str | None) -> dict[str, list[Any]]:
    """Word-level prompt changes: ``added`` and ``removed`` terms (shown with
    their weight), and ``reweighted`` ``[{"term", "a", "b"}]`` for a term whose
    weight alone changed (consecutive words changed alike form one phrase)."""
    ta, tb = weighted_terms(a), weighted_terms(b)
    weights_a: dict[str, list[float]] = {}
    for term, w in ta:
        weights_a.setdefault(term, []).append(w)
    added: list[str] = []
    reweighted: list[dict[str, Any]] = []
    # First pair equal (term, weight) occurrences, then pair what is left by term.
    left_a: dict[str, list[float]] = {k: list(v) for k, v in weights_a.items()}
    unmatched_b: list[tuple[int, str, float]] = []
    for n, (term, w) in enumerate(tb):
        if w in left_a.get(term, []):
            left_a[term].remove(w)
        else:
            unmatched_b.append((n, term, w))
    last: tuple[int, float, float] | None = None
    for n, term, w in unmatched_b:
        if left_a.get(term):
            wa = left_a[term].pop(0)
            if last is not None and last[0] == n - 1 and (last[1], last[2]) == (wa, w) \
                    and not term.startswith("<") and not reweighted[-1]["term"].startswith("<"):
                reweighted[-1]["term"] += f" {term}"
            else:
                reweighted.append({"term": term, "a": wa, "b": w})
            last = (n, wa, w)
        else:
            added.append(_show(term, w))
    removed = [_show(term, w) for term, ws in left_a.items() for w in ws]
    return {"added": added, "removed": removed, "reweighted": reweighted}


def diff_dicts(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    changed = {k: [a[k], b[k]] for k in a.keys() & b.keys() if a[k] != b[k]}
    added = {k: b[k] for k in b.keys() - a.keys()}
    removed = {k: a[k] for k in a.keys() - b.keys()}
    return {"changed": dict(sorted(changed.items())), "added": dict(sorted(added.items())),
            "removed": dict(sorted(removed.items()))}


def _model_key(m: dict[str, Any]) -> tuple[str, str]:
    return (m.get("role") or "", m.get("name") or m.get("path") or "")


def diff_models(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> dict[str, Any]:
    by_a = {_model_key(m): m for m in a}
    by_b = {_model_key(m): m for m in b}
    changed, strength = [], []
    for key in sorted(by_a.keys() & by_b.keys()):
        ma, mb = by_a[key], by_b[key]
        if ma.get("blake3") != mb.get("blake3"):
            changed.append({"role": key[0], "name": key[1], "a": ma.get("blake3"),
                            "b": mb.get("blake3")})
        for which in ("strength", "strength_clip"):
            if ma.get(which) != mb.get(which):
                strength.append({"role": key[0], "name": key[1], "field": which,
                                 "a": ma.get(which), "b": mb.get(which)})
    only_a = [by_a[k] for k in sorted(by_a.keys() - by_b.keys())]
    only_b = [by_b[k] for k in sorted(by_b.keys() - by_a.keys())]
    renamed = []
    for ma in list(only_a):
        for mb in list(only_b):
            if ma.get("blake3") and ma.get("blake3") == mb.get("blake3"):
                renamed.append({"role": mb.get("role"), "blake3": ma["blake3"],
                                "a": ma.get("name"), "b": mb.get("name")})
                only_a.remove(ma)
                only_b.remove(mb)
                break

    def brief(m: dict[str, Any]) -> dict[str, Any]:
        return {k: m[k] for k in ("role", "name", "blake3", "strength") if k in m}

    return {"changed": changed, "added": [brief(m) for m in only_b],
            "removed": [brief(m) for m in only_a], "renamed": renamed, "strength": strength}


def diff_inputs(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> dict[str, Any]:
    def key(i: dict[str, Any]) -> tuple[str, str]:
        return (i.get("role") or "", i.get("name") or "")

    by_a, by_b = {key(i): i for i in a}, {key(i): i for i in b}
    changed = [{"role": k[0], "name": k[1], "a": by_a[k].get("blake3"), "b": by_b[k].get("blake3")}
               for k in sorted(by_a.keys() & by_b.keys())
               if by_a[k].get("blake3") != by_b[k].get("blake3")]
    return {"changed": changed,
            "added": [by_b[k] for k in sorted(by_b.keys() - by_a.keys())],
            "removed": [by_a[k] for k in sorted(by_a.keys() - by_b.keys())]}


MAX_GRAPH_NODES = 10_000


def _inputs_of(node: dict[str, Any]) -> dict[str, Any]:
    inputs = node.get("inputs")
    return inputs if isinstance(inputs, dict) else {}


def diff_graphs(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    """Node-level diff of two ComfyUI API prompt graphs, by node id: nodes
    ``added``/``removed`` ``[{"node", "class_type"}]`` and ``changed``
    ``[{"node", "class_type", "inputs": {name: [a, b]}}]`` (a link is
    ``[node, slot]``; an input absent on one side is null there). None when
    either record has no graph."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        return None

    def nodes(g: dict[str, Any]) -> dict[str, dict[str, Any]]:
        out = {}
        for k, v in list(g.items())[:MAX_GRAPH_NODES]:
            if isinstance(v, dict):
                out[str(k)] = v
        return out

    def order(node_id: str) -> tuple[int, str]:
        return (int(node_id), "") if node_id.isascii() and node_id.isdigit() else (1 << 62, node_id)

    na, nb = nodes(a), nodes(b)
    added = [{"node": k, "class_type": nb[k].get("class_type")}
             for k in sorted(nb.keys() - na.keys(), key=order)]
    removed = [{"node": k, "class_type": na[k].get("class_type")}
               for k in sorted(na.keys() - nb.keys(), key=order)]
    changed = []
    for k in sorted(na.keys() & nb.keys(), key=order):
        ia = _inputs_of(na[k])
        ib = _inputs_of(nb[k])
        inputs = {name: [ia.get(name), ib.get(name)] for name in sorted(ia.keys() | ib.keys())
                  if ia.get(name) != ib.get(name)}
        if na[k].get("class_type") != nb[k].get("class_type"):
            inputs = {"class_type": [na[k].get("class_type"), nb[k].get("class_type")],
                      **inputs}
        if inputs:
            changed.append({"node": k, "class_type": nb[k].get("class_type"), "inputs": inputs})
    return {"added": added, "removed": removed, "changed": changed}


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """Nested environment facts as ``a.b.c`` keys; lists of named things (custom
    nodes, GPUs, packages) become ``list[name].field``, so one changed commit
    reads as one change, not as a whole new list."""
    if isinstance(d, list) and d and all(isinstance(x, dict) and x.get("name") for x in d):
        out: dict[str, Any] = {}
        for item in d:
            name = item["name"]
            out.update(_flatten({k: v for k, v in item.items() if k != "name"},
                                f"{prefix}[{name}]"))
        return out
    if not isinstance(d, dict):
        return {prefix: d} if prefix else {}
    out = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, (dict, list)):
            flat = _flatten(v, key)
            out.update(flat if flat or isinstance(v, dict) else {key: v})
        else:
            out[key] = v
    return out


@dataclass(frozen=True)
class Diff:
    """What differs between records ``a`` and ``b``, section by section; each
    section is ``{"changed", "added", "removed", ...}`` as docs/cli.md shows."""

    a: str
    b: str
    params: dict[str, Any]
    prompt: dict[str, Any]
    negative_prompt: dict[str, Any]
    models: dict[str, Any]
    inputs: dict[str, Any]
    tool: dict[str, Any]
    environment: dict[str, Any]
    #: the ComfyUI graphs compared node by node, when both records have one
    graph: dict[str, Any] | None = None
    #: ``graph`` for people: inputs whose change another section shows are left out,
    #: long text is given as its changed words (``{"words": diff_words(...)}``)
    graph_brief: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def empty(self) -> bool:
        sections = (self.params, self.prompt, self.negative_prompt, self.models, self.inputs,
                    self.tool, self.environment, self.graph or {})
        return not any(any(s.values()) for s in sections)

    def brief(self, pa: dict[str, Any], pb: dict[str, Any]) -> Diff:
        """This diff with what one section shows left out of the others: ``extra.``
        keys for the models and tool, a LoRA's weight in the prompt when the models
        show its strength, graph inputs whose change is shown above (``graph_brief``)."""
        from dataclasses import replace

        params = {k: {n: v for n, v in section.items() if not _extra_shown(n)}
                  for k, section in self.params.items()}
        strengths = self.models.get("strength") or []
        names = {_stem(m.get("name")) for m in strengths}
        prompt, negative = (
            {**w, "reweighted": [r for r in w.get("reweighted", [])
                                 if not (r["term"].startswith("<")
                                         and _stem(r["term"][1:-1].partition(":")[2]) in names)]}
            for w in (self.prompt, self.negative_prompt))
        shown: list[tuple[Any, Any]] = [tuple(v) for v in self.params["changed"].values()]
        shown += [(m.get("a"), m.get("b")) for m in strengths]
        shown += [(m.get("a"), m.get("b")) for m in self.models.get("renamed") or []]
        shown += [(pa.get(k), pb.get(k)) for k in _PROMPTS]
        return replace(self, params=params, prompt=prompt, negative_prompt=negative,
                       graph_brief=_graph_brief(self.graph, shown))

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "graph_brief"}


def diff_records(a: dict[str, Any], b: dict[str, Any], *, a_id: str, b_id: str,
                 graph: dict[str, Any] | None = None) -> Diff:
    """What differs between two records' JSON."""
    pa, pb = a.get("params") or {}, b.get("params") or {}
    env_a, env_b = _flatten(a.get("environment") or {}), _flatten(b.get("environment") or {})
    return Diff(
        a=a_id,
        b=b_id,
        params=diff_dicts(flat_params(pa, skip=_PROMPTS), flat_params(pb, skip=_PROMPTS)),
        prompt=diff_words(pa.get("prompt"), pb.get("prompt")),
        negative_prompt=diff_words(pa.get("negative_prompt"), pb.get("negative_prompt")),
        models=diff_models(a.get("models") or [], b.get("models") or []),
        inputs=diff_inputs(a.get("inputs") or [], b.get("inputs") or []),
        tool=diff_dicts(a.get("tool") or {}, b.get("tool") or {}),
        environment=diff_dicts(env_a, env_b),
        graph=graph,
    ).brief(pa, pb)


def _extra_shown(key: str) -> bool:
    return key.startswith("extra.") and key[6:].strip().lower() in EXTRAS_SHOWN_ELSEWHERE


def _stem(name: Any) -> str:
    text = str(name or "").rsplit("/", 1)[-1]
    return text.rsplit(".", 1)[0] if text.endswith((".safetensors", ".pt", ".ckpt")) else text


def _graph_brief(graph: dict[str, Any] | None, shown: list[tuple[Any, Any]]
                 ) -> dict[str, Any] | None:
    if graph is None:
        return None
    changed = []
    for node in graph.get("changed", []):
        inputs: dict[str, Any] = {}
        for name, (va, vb) in node["inputs"].items():
            if (va, vb) in shown and name != "class_type":
                continue
            if isinstance(va, str) and isinstance(vb, str) and max(len(va), len(vb)) > LONG_TEXT:
                inputs[name] = {"words": diff_words(va, vb)}
            else:
                inputs[name] = [va, vb]
        if inputs:
            changed.append({**node, "inputs": inputs})
    return {**graph, "changed": changed}
