"""The lineage index's queries for graphs, variations, pixel links and perceptual
fingerprints (``Index`` inherits them; ``lineage.index`` holds the tables and
the writing)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import PurePath
from typing import Any

import orjson

from repro.lineage.index_schema import as_blob, prefix_range, unpack_vary, vary_numbers
from repro.objects.ids import prefix_upper

_INT64 = range(-(1 << 63), 1 << 63)


def stored_seed(seed: Any) -> Any:
    """A seed as the ``records.seed`` column keeps it: an integer or a string as
    itself, anything else (a list, a 64-bit unsigned seed) as JSON bytes."""
    if isinstance(seed, str) or seed is None or (
            isinstance(seed, int) and not isinstance(seed, bool) and seed in _INT64):
        return seed
    return orjson.dumps(seed)


def _seed(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, bytes) else value


def _hex(value: bytes | None) -> str | None:
    return None if not value else value.hex()


class LineageQueries:
    """Read-only queries over the index tables (``conn`` is the index's connection)."""

    conn: sqlite3.Connection

    def _select_in(self, sql: str, values: Iterable[Any]) -> Iterator[Any]:
        """Rows of ``sql``, whose ``{marks}`` is filled with placeholders for ``values``
        (hex ids are given as their bytes), in chunks below SQLite's limit on parameters."""
        values = [as_blob(v) if isinstance(v, str) else v for v in values]
        for start in range(0, len(values), 500):
            chunk = values[start:start + 500]
            yield from self.conn.execute(sql.format(marks=",".join("?" * len(chunk))), chunk)

    # -- lineage queries ---------------------------------------------------------

    def summaries(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """``{id: {name, tool, seed, level, path, output}}`` from the index alone."""
        out: dict[str, dict[str, Any]] = {}
        for rid, path, output, captured, tool, level, seed in self._select_in(
                "SELECT id, path, output, captured_at, tool, level, seed FROM records "
                "WHERE id IN ({marks})", ids):
            out[rid.hex()] = {"name": PurePath(path or "").name, "tool": tool,
                              "seed": _seed(seed), "level": level, "path": path,
                              "output": output.hex(), "captured_at": captured}
        return out

    def edges_within(self, ids: Iterable[str]) -> list[tuple[str, str, str]]:
        """Edges (child, parent, kind) whose two ends are both among ``ids``."""
        wanted = {as_blob(i) for i in ids}
        rows = self._select_in("SELECT child, parent, kind FROM edges WHERE child IN ({marks}) "
                               "ORDER BY child, parent", sorted(w for w in wanted if w))
        return [(c.hex(), p.hex(), k) for c, p, k in rows if p in wanted]

    def model_bases(self, blake3s: Iterable[str]) -> list[tuple[str, str | None, str | None]]:
        """(model, base BLAKE3 or None, base name) for models whose metadata names a base."""
        out = []
        for b in blake3s:
            out += self.conn.execute(
                "SELECT model, base, base_name FROM model_links WHERE model = ?",
                (as_blob(b),)).fetchall()
        return [(m.hex(), _hex(base), name) for m, base, name in out]

    def models_of(self, ids: Iterable[str]) -> list[tuple[str, str | None, str | None,
                                                        str | None, str | None]]:
        """``(record, blake3, role, name, path)`` of every model the records used."""
        return [(rid.hex(), _hex(blake3), role or None, name or None, path or None)
                for rid, blake3, role, name, path in self._select_in(
                    "SELECT r.id, k.blake3, k.role, k.name, k.path FROM records r "
                    "JOIN record_models m ON m.record = r.n JOIN model_keys k ON k.key = m.key "
                    "WHERE r.id IN ({marks}) ORDER BY r.n, m.seq", ids)]

    def fingerprint(self, record_id: str) -> tuple[str, str, dict[str, str]] | None:
        row = self.conn.execute(
            "SELECT v.family, v.core, v.vary FROM records r JOIN record_vary v ON v.record = r.n "
            "WHERE r.id = ?", (as_blob(record_id),)).fetchone()
        if row is None:
            return None
        return row[0].hex(), row[1].hex(), self._unpack([row[2]])[0]

    def _unpack(self, packed: list[bytes]) -> list[dict[str, str]]:
        """Variation digest maps from their stored form (key numbers looked up once)."""
        numbers: set[int] = set()
        for data in packed:
            numbers.update(vary_numbers(data))
        names = dict(self._select_in("SELECT n, key FROM vary_keys WHERE n IN ({marks})",
                                     sorted(numbers)))
        return [unpack_vary(data, names) for data in packed]

    def variation_candidates(self, family: str, core: str, exclude: str, limit: int
                             ) -> tuple[list[tuple[str, dict[str, str]]], bool]:
        """Same-family records (seed-only variations first), at most ``limit``;
        returns them and whether the family had more."""
        family_b, core_b, mine = bytes.fromhex(family), bytes.fromhex(core), as_blob(exclude)
        rows = list(self.conn.execute(
            "SELECT r.id, v.vary FROM record_vary v JOIN records r ON r.n = v.record "
            "WHERE v.core = ? AND r.id IS NOT ? LIMIT ?", (core_b, mine, limit + 1)))
        truncated = len(rows) > limit
        rows = rows[:limit]
        room = limit - len(rows)
        if room > 0:
            more = list(self.conn.execute(
                "SELECT r.id, v.vary FROM record_vary v JOIN records r ON r.n = v.record "
                "WHERE v.family = ? AND v.core != ? AND r.id IS NOT ? "
                "ORDER BY r.captured_at DESC LIMIT ?", (family_b, core_b, mine, room + 1)))
            truncated = len(more) > room
            rows += more[:room]
        elif not truncated:
            truncated = self.conn.execute(
                "SELECT 1 FROM record_vary WHERE family = ? AND core != ? LIMIT 1",
                (family_b, core_b)).fetchone() is not None
        maps = self._unpack([r[1] for r in rows])
        return [(r[0].hex(), vary) for r, vary in zip(rows, maps, strict=True)], truncated

    def waiting_pixel_inputs(self) -> bool:
        """Whether some record has an A1111 pixel-MD5 input with no parent yet."""
        row = self.conn.execute(
            "SELECT 1 FROM record_inputs i JOIN records r ON r.n = i.record "
            "WHERE length(i.sha256) = 16 AND i.blake3 IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM edges e WHERE e.child = r.id) LIMIT 1").fetchone()
        return row is not None

    def records_with_pixels(self, md5: str) -> list[str]:
        rows = self.conn.execute("SELECT id FROM records WHERE pixels_md5 = ?",
                                 (as_blob(md5.lower()),))
        return [r[0].hex() for r in rows]

    def recent_outputs(self, tools: Iterable[str], limit: int) -> list[tuple[str, str]]:
        """``(record id, output BLAKE3)`` of the newest records made by ``tools`` whose
        pixel MD5 is not recorded (those are found by ``records_with_pixels``).

        One walk of ``records_tool`` a tool, newest first, stopping at ``limit``:
        the cost does not grow with records made by other tools."""
        rows: list[tuple[str, bytes, bytes]] = []
        for tool in dict.fromkeys(tools):
            rows += self.conn.execute(
                "SELECT captured_at, id, output FROM records WHERE tool = ? "
                "AND pixels_md5 IS NULL ORDER BY captured_at DESC LIMIT ?",
                (tool, limit)).fetchall()
        rows.sort(key=lambda r: r[0] or "", reverse=True)
        return [(rid.hex(), output.hex()) for _, rid, output in rows[:limit]]

    # -- perceptual fingerprints (repro identify) ---------------------------------

    def add_prints(self, rows: Iterable[tuple[str, str | None, int | None]]) -> None:
        """Store ``(output BLAKE3, pixel hash, signed 64-bit fingerprint)`` rows."""
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.executemany(
                "INSERT INTO output_prints VALUES (?,?,?) ON CONFLICT(output) DO UPDATE "
                "SET pixels = excluded.pixels, print = excluded.print",
                [(as_blob(o), as_blob(p), f) for o, p, f in rows if as_blob(o)])

    def outputs_without_prints(self) -> list[str]:
        """Outputs of records with no fingerprint row yet (captured before there were
        any), among the records indexed since ``prints_checked`` was last called."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'prints_checked'").fetchone()
        # No DISTINCT or ORDER BY: they would walk the whole records_output index.
        rows = self.conn.execute(
            "SELECT output FROM records WHERE rowid > ? AND output NOT IN "
            "(SELECT output FROM output_prints)", (int(row[0]) if row else 0,))
        return sorted({r[0].hex() for r in rows})

    def prints_checked(self) -> None:
        """Remember that every record indexed so far has its fingerprint row (a
        capture writes one), so that ``outputs_without_prints`` looks at newer ones only.
        Nothing is written when the mark has not moved (a lookup is a reader)."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'prints_checked'").fetchone()
        last = self.conn.execute("SELECT coalesce(max(rowid), 0) FROM records").fetchone()[0]
        if row is None or int(row[0]) != last:
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('prints_checked', ?)", (last,))

    def outputs_with_pixels(self, digest: str) -> list[str]:
        rows = self.conn.execute("SELECT output FROM output_prints WHERE pixels = ?",
                                 (as_blob(digest),))
        return [r[0].hex() for r in rows]

    def prints_with_part(self, part: int, values: Iterable[int],
                         near: tuple[Sequence[int], int] | None = None
                         ) -> list[tuple[str, int]]:
        """``(output, fingerprint)`` whose 16-bit ``part`` (0: the highest bits) is one
        of ``values``: a probe of that part's expression index for each value. With
        ``near`` (fingerprints, bits), only rows within that many bits of one of them:
        the part's index holds the fingerprint, so the others are passed over without
        reading their rows (at 1,000,000 outputs a part's value has about 15)."""
        shift = 48 - 16 * part
        expr = f"(print >> {shift}) & 65535" if shift else "print & 65535"
        mask = (1 << 64) - 1
        where = ""
        if near is not None:
            guesses, bits = list(near[0]), near[1]
            self.conn.create_function(
                "repro_near", 1, lambda p: any(((p & mask) ^ q).bit_count() <= bits
                                               for q in guesses), deterministic=True)
            where = " AND repro_near(print)"
        values = list(values)
        out: list[tuple[str, int]] = []
        for start in range(0, len(values), 500):
            chunk = values[start:start + 500]
            out += [(o.hex(), p & mask) for o, p in self.conn.execute(
                f"SELECT output, print FROM output_prints WHERE print IS NOT NULL AND {expr} IN "
                f"({','.join('?' * len(chunk))}){where}", chunk)]
        return out

    def prints(self) -> tuple[list[str], list[int]]:
        """Every output with a fingerprint, and the fingerprints (unsigned), in step."""
        rows = self.conn.execute(
            "SELECT output, print FROM output_prints WHERE print IS NOT NULL").fetchall()
        mask = (1 << 64) - 1
        return [r[0].hex() for r in rows], [r[1] & mask for r in rows]

    def model_names(self, blake3s: Iterable[str]) -> dict[str, list[str]]:
        """``{blake3: [names and paths it was recorded under]}``."""
        out: dict[str, list[str]] = {}
        for b in blake3s:
            names: list[str] = []
            for name, path in self.conn.execute(
                    "SELECT name, path FROM model_keys WHERE blake3 = ? ORDER BY key",
                    (as_blob(b),)):
                for value in (name, path):
                    if value and value not in names:
                        names.append(value)
            out[b] = names
        return out

    def records_using(self, blake3s: Iterable[str]) -> list[str]:
        """Records that used any of the model versions, newest first, each once:
        the cost is in what it returns (a set, not a search of a growing list)."""
        return [row[0] for row in self.uses_rows(blake3s)]

    def uses_rows(self, blake3s: Iterable[str]) -> list[tuple[str, str | None, str | None,
                                                               str | None]]:
        """``(id, output path, tool, level)`` of ``records_using``'s records, in its
        order, read in the same pass (``repro uses`` lists them from these)."""
        rows: dict[bytes, tuple[str, str | None, str | None, str | None]] = {}
        captured: dict[bytes, str] = {}
        for rid, at, path, tool, level in self._select_in(
                "SELECT r.id, r.captured_at, r.path, r.tool, r.level FROM model_keys k "
                "JOIN record_models m ON m.key = k.key JOIN records r ON r.n = m.record "
                "WHERE k.blake3 IN ({marks})", sorted(set(blake3s))):
            captured[rid] = at or ""
            rows[rid] = (rid.hex(), path, tool, level)
        ids = sorted(captured)
        ids.sort(key=captured.__getitem__, reverse=True)  # stable: ties stay in id order
        return [rows[rid] for rid in ids]

    def last_record_using(self, blake3: str) -> str | None:
        """The record indexed last that used this model version: the last row of
        ``record_models_key`` for each of its names, however often it was used."""
        last = None
        for (key,) in self.conn.execute("SELECT key FROM model_keys WHERE blake3 = ?",
                                        (as_blob(blake3),)).fetchall():
            row = self.conn.execute("SELECT max(record) FROM record_models WHERE key = ?",
                                    (key,)).fetchone()
            if row[0] is not None and (last is None or row[0] > last):
                last = row[0]
        if last is None:
            return None
        row = self.conn.execute("SELECT id FROM records WHERE n = ?", (last,)).fetchone()
        return row[0].hex() if row else None

    def models(self) -> list[dict[str, Any]]:
        """Known model versions with the names, paths and roles they were seen under,
        and how many records used them (the counts kept as records are written)."""
        rows = self.conn.execute(
            "SELECT blake3, name, path, role, uses FROM model_keys WHERE uses > 0 "
            "ORDER BY blake3, name, path, role")
        out: dict[str, dict[str, Any]] = {}
        for raw, name, path, role, uses in rows:
            blake3 = raw.hex()
            entry = out.setdefault(blake3, {"blake3": blake3, "names": [], "paths": [],
                                            "roles": [], "uses": 0})
            for key, value in (("names", name), ("paths", path), ("roles", role)):
                if value and value not in entry[key]:
                    entry[key].append(value)
            entry["uses"] += uses
        return list(out.values())

    def model_blake3s_named(self, name: str) -> list[str]:
        """Versions recorded under ``name`` (a recorded name or path); a bare file
        name also matches the end of recorded paths when nothing matches exactly."""
        rows = self.conn.execute(
            "SELECT DISTINCT blake3 FROM model_keys WHERE blake3 != x'' AND (name = ?1 OR "
            "path = ?1)", (name,)).fetchall()
        if not rows:
            # A suffix match reads every name (a row a version and name, not a use).
            rows = self.conn.execute(
                "SELECT DISTINCT blake3 FROM model_keys WHERE blake3 != x'' AND "
                "path LIKE ?", ("%/" + name,)).fetchall()
        return sorted(r[0].hex() for r in rows)

    def model_blake3s_by_hash(self, prefix: str) -> list[str]:
        """Versions with a recorded or computed hash (sha256, autov1, tensor_sha256...)
        starting with ``prefix``, or a recorded short hash that ``prefix`` starts with."""
        prefix = prefix.lower()
        upper = prefix_upper(prefix)
        rows = self.conn.execute(
            "SELECT DISTINCT blake3 FROM model_hashes WHERE value >= ? AND value < ?",
            (prefix, upper)).fetchall()  # the recorded hashes stay text (any scheme)
        if not rows:
            # A1111 records 10-hex prefixes: a longer hash given by the user starts with one.
            rows = self.conn.execute(
                "SELECT DISTINCT blake3 FROM model_hashes WHERE value IN "
                f"({','.join('?' * 4)})", tuple(prefix[:n] for n in (8, 10, 12, 16))).fetchall()
        return sorted(r[0].hex() for r in rows)

    def model_blake3s_with_prefix(self, prefix: str) -> list[str]:
        bounds = prefix_range(prefix)
        if bounds is None:
            return []
        low, high = bounds
        rows = self.conn.execute(
            "SELECT DISTINCT blake3 FROM model_keys WHERE blake3 >= ? AND (?2 IS NULL OR "
            "blake3 < ?2)", (low, high))
        return [r[0].hex() for r in rows]

    # -- what ``repro status`` looks at ------------------------------------------

    def model_places(self) -> list[tuple[str, str, str, str, int]]:
        """(version, recorded path, role, name, records) for every model version at
        every path it was recorded at, from the counts kept as records are written."""
        return [(b.hex(), p, r, n, u) for b, n, p, r, u in self.conn.execute(
            "SELECT blake3, name, path, role, uses FROM model_keys WHERE uses > 0")]

    def records_to_verify(self) -> set[str]:
        """Records whose readiness their model versions on disk do not settle: captured
        below full, with a model known by no version, or with no model at all."""
        return {rid.hex() for (rid,) in self.conn.execute(
            "SELECT id FROM records WHERE unsettled = 1")}

    def input_places(self) -> list[tuple[str, str | None, str | None]]:
        """(record, input version or None, recorded path or None) of every recorded input
        that ``verify`` looks at: one never hashed, or one with a path."""
        return [(rid.hex(), b.hex() if b else None, path) for rid, b, path in self.conn.execute(
            "SELECT r.id, i.blake3, i.path FROM record_inputs i JOIN records r ON r.n = i.record "
            "WHERE i.blake3 IS NULL OR i.path IS NOT NULL")]
