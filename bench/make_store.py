"""Build a big repro store for the lineage benchmark.

100,000 records (by default) over 1,000 model versions (200 checkpoints, 800
LoRAs, each a small real file under ``models/`` and an object in the store),
in chains of parents up to 50 deep (img2img from the previous link, named
both by ``parents`` and by the input's BLAKE3). No image is made or read;
each output is a tiny object of its own (so ``fsck`` finds every object a
record names). Records and outputs are written as files straight under
their final names, with one ``sync`` at the end, not through the store's
temp files and renames (a fixture, not a capture: 2,000,000 files a million
records); they are indexed by ``Index.load`` a chunk a transaction, with a
page cache that holds the index's pages.

Each output has a made-up perceptual fingerprint (``output_prints``, as a
capture writes for an image), so ``repro identify`` probes a million of
them.

One LoRA (the first) is "hot": it is in HOT_LORA_SHARE of the records (at
1,000,000 records, 20,000 of them), as a studio's favourite LoRA is.
Records are written and indexed in chunks, so memory stays flat at 1,000,000.

Chunks of CHUNK records are made side by side by ``--jobs`` processes (each
chunk its own chains and random numbers); ``--resume`` finishes a store whose
build was stopped (the records it wrote but had not indexed are indexed).

Usage: python bench/make_store.py [DIR] [N_RECORDS] [--jobs J] [--resume]
       python bench/make_store.py --prints DIR   (fingerprints for a store built without)
The index is grown by ``Index.load``, the insert path of ``repro add``'s
``add_many`` (20,000 records a transaction rather than 1,024): its b-trees
split pages as a store grown by captures does.
Prints the folder, the record count, the build time and a few targets (JSON).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from repro.api.repository import Repository
from repro.demo import write_safetensors
from repro.objects.hashing import hash_bytes
from repro.record import SCHEMA, Record, canonical_bytes

N_CHECKPOINTS = 200
N_LORAS = 800
MAX_DEPTH = 50
HOT_LORA_SHARE = 0.02
CHUNK = 20_000
#: Page cache of the building connection, KiB: the random keys (ids, outputs)
#: of a million records touch every page of their indexes.
BUILD_CACHE_KIB = 1024 * 1024
WORDS = ["portrait", "lighthouse", "keeper", "oil", "painting", "storm", "sea", "cliff", "warm",
         "light", "golden", "hour", "watercolor", "fox", "snow", "forest", "city", "night",
         "neon", "rain", "dragon", "castle", "mist"]


def make_models(root: Path, repo: Repository, write: bool = True) -> list[dict[str, Any]]:
    """The model files (or, with ``write`` False, those of a store being finished)."""
    models = []
    for n in range(N_CHECKPOINTS + N_LORAS):
        role, folder = ("checkpoint", "checkpoints") if n < N_CHECKPOINTS else ("lora", "loras")
        name = f"{role}_{n:04d}.safetensors"
        path = root / "models" / folder / name
        if write:
            write_safetensors(path, random.Random(n).randbytes(2048))
        blake3 = repo.store.put_bytes(path.read_bytes())
        models.append({"role": role, "name": name, "path": f"models/{folder}/{name}",
                       "blake3": blake3, "size": path.stat().st_size,
                       "hashes": {"blake3": blake3}})
    return models


def write_object(objects: Path, data: bytes) -> str:
    """Put ``data`` under its final object name (read-only, as the store keeps
    objects), without a temp file or a sync: ``build`` syncs once at the end."""
    oid = hash_bytes(data)
    fan = objects / oid[:2]
    try:
        fd = os.open(fan / oid[2:], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    except FileNotFoundError:
        fan.mkdir(exist_ok=True)
        fd = os.open(fan / oid[2:], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    except FileExistsError:
        return oid
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    return oid


def fake_prints(first: int, count: int) -> list[tuple[str, None, int]]:
    """Fingerprints for the outputs ``first``.. (random signed 64-bit values)."""
    rng = random.Random(first)
    return [(hash_bytes(f"output {n}".encode()), None, rng.getrandbits(64) - (1 << 63))
            for n in range(first, first + count)]


def make_record(n: int, rng: random.Random, models: list[dict[str, Any]],
                parent: dict[str, Any] | None, at: datetime) -> dict[str, Any]:
    ckpt = dict(models[rng.randrange(N_CHECKPOINTS)])
    loras = [dict(models[N_CHECKPOINTS + rng.randrange(N_LORAS)], strength=rng.choice(
        (0.5, 0.6, 0.7, 0.8, 1.0))) for _ in range(rng.randrange(3))]
    if rng.random() < HOT_LORA_SHARE:
        loras.append(dict(models[N_CHECKPOINTS], strength=0.8))
    seed = rng.randrange(2**32)
    prompt = ", ".join(rng.sample(WORDS, 6)) + f", ({rng.choice(WORDS)}:1.{rng.randrange(1, 5)})"
    params: dict[str, Any] = {"prompt": prompt, "negative_prompt": "blurry, lowres",
                              "seed": seed, "steps": rng.choice((20, 25, 30)),
                              "cfg": rng.choice((5.0, 6.5, 7.0)), "sampler": "euler",
                              "scheduler": "normal", "width": 512, "height": 512,
                              "denoise": 0.6 if parent else 1.0}
    output = hash_bytes(f"output {n}".encode())
    inputs = []
    if parent is not None:
        inputs.append({"role": "image", "name": Path(parent["output"]["path"]).name,
                       "blake3": parent["output"]["blake3"]})
    return {
        "schema": SCHEMA,
        "output": {"blake3": output, "sha256": hash_bytes(f"sha {n}".encode()),
                   "path": f"outputs/{n // 1000:03d}/ComfyUI_{n:06d}_.png", "size": 400_000,
                   "media_type": "image/png", "width": 512, "height": 512},
        "tool": {"name": "comfyui", "version": "0.3.64"},
        "params": params,
        "models": [ckpt, *loras],
        "inputs": inputs,
        "parents": [parent["_id"]] if parent else [],
        "source": {"format": "comfyui-png", "metadata": "execution", "blobs": {}},
        "environment": {"python": "3.11.9", "os": "Linux", "gpu": "NVIDIA H100",
                        "torch": "2.8.0+cu128"},
        "reproducibility": {"level": "full", "reasons": []},
        "captured": {"at": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                     "host": "bench", "user": "bench"},
        "message": "",
    }


def build(root: Path, count: int, jobs: int = 1, resume: bool = False) -> dict[str, Any]:
    """Make (or, with ``resume``, finish) a store of ``count`` records, ``jobs``
    processes writing chunks side by side (they take turns on the index)."""
    started = time.perf_counter()
    repo = Repository.discover(root) if resume else Repository.init(root)
    repo.index.count()  # create the empty index now, not by a rebuild after the writes
    with repo.store.batch():
        models = make_models(root, repo, write=not resume)
    first = 0
    if resume:
        first = repo.index.count() // CHUNK * CHUNK
        index_leftovers(repo, first + CHUNK, models)
        first = repo.index.count() // CHUNK * CHUNK
    repo.close()
    chunks = [(root, n, min(count, n + CHUNK), count, models, started)
              for n in range(first, count, CHUNK)]
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        made = pool.map(build_chunk, chunks, chunksize=1)
    os.sync()
    deepest = max(((d, tip) for d, tip, _ in made), default=(0, ""))
    other = next((o for _, _, o in made if o), "")
    repo = Repository.discover(root)
    return {"root": str(root), "records": repo.index.count(), "models": len(models),
            "seconds": round(time.perf_counter() - started, 1), "deepest": deepest[0],
            "tip": deepest[1], "other": other, "lora": models[N_CHECKPOINTS + 1]["name"],
            "hot_lora": models[N_CHECKPOINTS]["name"]}


def build_chunk(job: tuple[Path, int, int, int, list[dict[str, Any]], float]
                ) -> tuple[int, str, str]:
    """Records ``first``..``end`` (their own chains, their own random numbers),
    written and indexed; returns the deepest chain's (length, tip) and the
    record at ``count // 2`` if it is here."""
    root, first, end, count, models, started = job
    rng = random.Random(first)
    repo = Repository.discover(root)
    repo.conn.execute(f"PRAGMA cache_size=-{BUILD_CACHE_KIB}")
    repo.conn.execute("PRAGMA busy_timeout=3600000")  # the other jobs' chunks
    objects = repo.store.objects_dir
    start = datetime(2025, 1, 1, tzinfo=UTC)
    chain: list[dict[str, Any]] = []
    chain_length = 0
    deepest: tuple[int, str] = (0, "")
    other = ""
    records: list[Record] = []
    for n in range(first, end):
        if len(chain) >= chain_length:
            chain, chain_length = [], rng.choice((1, 1, 2, 3, 5, 10, 20, MAX_DEPTH))
        parent = chain[-1] if chain else None
        data = make_record(n, rng, models, parent, start + timedelta(seconds=n))
        # A tiny stand-in for the output's bytes: fsck finds every object.
        write_object(objects, f"output {n}".encode())
        raw = canonical_bytes(Record.from_dict(data))
        rid = write_object(objects, raw)
        records.append(Record.from_dict(orjson.loads(raw), id=rid))  # as a rebuild reads it
        chain.append({"output": data["output"], "_id": rid})
        if len(chain) > deepest[0]:
            deepest = (len(chain), rid)
        if n == count // 2:
            other = rid
    repo.index.load(records)
    repo.index.add_prints(fake_prints(first, len(records)))
    repo.close()
    print(f"records {first:,}-{end:,} indexed, {time.perf_counter() - started:.0f} s",
          file=sys.stderr, flush=True)
    return deepest[0], deepest[1], other


def index_leftovers(repo: Repository, outputs_below: int, models: list[dict[str, Any]]) -> None:
    """Index the records an interrupted build wrote but had not indexed: the
    objects that are neither indexed, nor an output, nor a model."""
    known = set(repo.index.ids_in_order())
    known |= {hash_bytes(f"output {n}".encode()) for n in range(outputs_below)}
    known |= {m["blake3"] for m in models}
    left = [Record.from_dict(orjson.loads(repo.store.read_bytes(oid)), id=oid)
            for oid in repo.store if oid not in known]
    repo.index.load(left)
    print(f"{len(left)} records written but not indexed: indexed", file=sys.stderr)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", type=Path, default=Path("/tmp/repro-bench-store"),
                        help="the store's folder (empty or new)")
    parser.add_argument("count", nargs="?", type=int, default=100_000, help="records to make")
    parser.add_argument("--jobs", type=int, default=1, help="processes making chunks")
    parser.add_argument("--resume", action="store_true",
                        help="finish a store whose build was stopped")
    parser.add_argument("--prints", action="store_true",
                        help="only add fingerprints to a store built without them")
    return parser.parse_args(argv[1:])


def main(argv: list[str]) -> None:
    args = parse(argv)
    root: Path = args.root
    if args.prints:
        repo = Repository.discover(root)
        count = repo.index.count()
        for first in range(0, count, CHUNK):
            repo.index.add_prints(fake_prints(first, min(CHUNK, count - first)))
        return
    if not args.resume and root.exists() and any(root.iterdir()):
        raise SystemExit(f"{root} is not empty")
    info = build(root, args.count, args.jobs, args.resume)
    (root / "bench.json").write_text(orjson.dumps(info).decode())
    print(orjson.dumps(info, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main(sys.argv)
