"""``repro diff``."""

from __future__ import annotations

from typing import Any

import click

from repro.cli.options import State, json_option, target_record
from repro.cli.render import emit_json, short
from repro.errors import UsageError


@click.command()
@click.argument("a")
@click.argument("b", required=False)
@click.option("--now", is_flag=True,
              help="Compare A with the model files on disk now instead of with B.")
@json_option
@click.pass_obj
def diff(state: State, a: str, b: str | None, now: bool, as_json: bool) -> None:
    """What differs between two records: seed, prompt words, model versions, ...

    With --now, which of A's models changed on disk since it was made.

    \b
    Example:
      repro diff monday.png friday.png
      repro diff monday.png --now
    """
    from repro.api.query import diff as diff_records

    if (b is None) != now:
        raise UsageError("give two records, or one record and --now",
                         hint="repro diff A B, or repro diff A --now")
    repo = state.repo()
    ra = target_record(state, repo, a)
    if now:
        from repro.api.query import diff_now

        report = diff_now(repo, ra)
        if as_json:
            emit_json(report.to_dict())
            return
        click.echo(f"a   {short(ra.id)} {ra.output.path}")
        click.echo("now the model files on disk")
        for m in report.changed:
            what = {"changed": f"a different version is on disk now ({short(m.now)})",
                    "moved": f"moved or renamed to {m.path}",
                    "missing": "no longer on disk",
                    "metadata-only": "only the safetensors header changed (same tensors)",
                    }.get(m.status, m.status)
            click.echo(f"  {m.role} {m.name} (recorded {short(m.blake3)}): {what}")
        if not report.changed:
            click.echo("  every model is on disk at its recorded version")
        return
    assert b is not None
    rb = target_record(state, repo, b)
    diff = diff_records(repo, ra, rb)
    if as_json:
        emit_json(diff.to_dict())
        return
    click.echo(f"a {short(ra.id)} {ra.output.path}")
    click.echo(f"b {short(rb.id)} {rb.output.path}")
    if diff.empty:
        click.echo("no differences in parameters, models, inputs, tool or environment")
        return
    for line in _diff_sentences({**diff.to_dict(), "graph": diff.graph_brief}):
        click.echo(f"  {line}")



def _diff_sentences(d: dict[str, Any]) -> list[str]:
    lines = []
    for k, (va, vb) in d["params"]["changed"].items():
        lines.append(f"{k} changed from {va!r} to {vb!r}")
    for k, v in d["params"]["added"].items():
        lines.append(f"{k} set to {v!r} in b only")
    for k, v in d["params"]["removed"].items():
        lines.append(f"{k} was {v!r} in a, absent in b")
    for key in ("prompt", "negative_prompt"):
        words = d[key]
        if words["added"] or words["removed"]:
            parts = []
            if words["removed"]:
                parts.append("removed " + ", ".join(repr(w) for w in words["removed"]))
            if words["added"]:
                parts.append("added " + ", ".join(repr(w) for w in words["added"]))
            lines.append(f"{key.replace('_', ' ')}: " + "; ".join(parts))
        for w in words.get("reweighted") or []:
            lines.append(f"{key.replace('_', ' ')}: the weight of {w['term']!r} changed "
                         f"from {w['a']:g} to {w['b']:g}")
    models = d["models"]
    for m in models["changed"]:
        lines.append(f"{m['role']} {m['name']}: a different version (same name): "
                     f"{short(m['a'])} -> {short(m['b'])}")
    for m in models["renamed"]:
        lines.append(f"{m['role']} renamed: {m['a']} -> {m['b']} (same content "
                     f"{short(m['blake3'])})")
    strengths = models["strength"]
    for m in strengths:
        twin = {**m, "field": "strength_clip"}
        if m["field"] == "strength_clip" and {**m, "field": "strength"} in strengths:
            continue  # said once with its twin below
        both = m["field"] == "strength" and twin in strengths
        lines.append(f"{m['role']} {m['name']}: {m['field']} {m['a']} -> {m['b']}"
                     + (" (model and clip)" if both else ""))
    for m in models["added"]:
        lines.append(f"{m['role']} {m.get('name')} used in b only")
    for m in models["removed"]:
        lines.append(f"{m['role']} {m.get('name')} used in a only")
    for i in d["inputs"]["changed"]:
        lines.append(f"input {i['name']}: different content {short(i['a'])} -> {short(i['b'])}")
    for i in d["inputs"]["added"]:
        lines.append(f"input {i.get('role')} {i.get('name')} used in b only")
    for i in d["inputs"]["removed"]:
        lines.append(f"input {i.get('role')} {i.get('name')} used in a only")
    graph = d.get("graph") or {}
    for n in graph.get("added", []):
        lines.append(f"node {n['node']} ({n['class_type']}) added in b")
    for n in graph.get("removed", []):
        lines.append(f"node {n['node']} ({n['class_type']}) removed in b")
    for n in graph.get("changed", []):
        changes = ", ".join(_node_change(k, v) for k, v in n["inputs"].items())
        lines.append(f"node {n['node']} ({n['class_type']}): {changes}")
    for section in ("tool", "environment"):
        for k, (va, vb) in d[section]["changed"].items():
            lines.append(f"{section} {k}: {va!r} -> {vb!r}")
        for k, v in d[section]["added"].items():
            lines.append(f"{section} {k}: {v!r} in b only")
        for k, v in d[section]["removed"].items():
            lines.append(f"{section} {k}: {v!r} in a only")
    return lines


def _node_change(name: str, change: Any) -> str:
    if isinstance(change, dict):  # long text: its changed words
        w = change["words"]
        parts = [f"removed {', '.join(map(repr, w['removed']))}" if w["removed"] else "",
                 f"added {', '.join(map(repr, w['added']))}" if w["added"] else "",
                 *(f"weight of {r['term']!r} {r['a']:g} -> {r['b']:g}"
                   for r in w["reweighted"])]
        return f"{name}: " + ("; ".join(p for p in parts if p) or "punctuation or spacing")
    va, vb = change
    return f"{name} {_node_value(va)} -> {_node_value(vb)}"


def _node_value(value: Any) -> str:
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], int):
        return f"<output {value[1]} of node {value[0]}>"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
