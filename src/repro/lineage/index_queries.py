"""The lineage index's queries for graphs, variations, pixel links and perceptual
fingerprints (``Index`` inherits them; ``lineage.index`` holds the tables and
the writing)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from repro.objects.ids import prefix_upper


class LineageQueries:
    """Read-only queries over the index tables (``conn`` is the index's connection)."""

    conn: sqlite3.Connection

    def _select_in(self, sql: str, values: Iterable[str]) -> Iterator[Any]:
        """Rows of ``sql``, whose ``{marks}`` is filled with placeholders for ``values``,
        in chunks below SQLite's limit on parameters."""
        values = list(values)
        for start in range(0, len(values), 500):
            chunk = values[start:start + 500]
            yield from self.conn.execute(sql.format(marks=",".join("?" * len(chunk))), chunk)

    # -- lineage queries ---------------------------------------------------------

    def summaries(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """``{id: {name, tool, seed, level, path, output}}`` from the index alone."""
        out: dict[str, dict[str, Any]] = {}
        for rid, summary, path, output, captured in self._select_in(
                "SELECT id, summary, path, output, captured_at FROM records "
                "WHERE id IN ({marks})", ids):
            entry = orjson.loads(summary) if summary else {}
            entry.update(path=path, output=output, captured_at=captured)
            out[rid] = entry
        return out

    def edges_within(self, ids: Iterable[str]) -> list[tuple[str, str, str]]:
        """Edges (child, parent, kind) whose two ends are both among ``ids``."""
        wanted = set(ids)
        rows = self._select_in("SELECT child, parent, kind FROM edges WHERE child IN ({marks}) "
                               "ORDER BY child, parent", sorted(wanted))
        return [(c, p, k) for c, p, k in rows if p in wanted]

    def model_bases(self, blake3s: Iterable[str]) -> list[tuple[str, str | None, str | None]]:
        """(model, base BLAKE3 or None, base name) for models whose metadata names a base."""
        out = []
        for b in blake3s:
            out += self.conn.execute(
                "SELECT model, base, base_name FROM model_links WHERE model = ?", (b,)).fetchall()
        return [(m, base, name) for m, base, name in out]

    def models_of(self, ids: Iterable[str]) -> list[tuple[str, str | None, str | None,
                                                        str | None, str | None]]:
        """``(record, blake3, role, name, path)`` of every model the records used."""
        return list(self._select_in("SELECT record, blake3, role, name, path FROM record_models "
                                    "WHERE record IN ({marks})", ids))

    def fingerprint(self, record_id: str) -> tuple[str, str, dict[str, str]] | None:
        row = self.conn.execute("SELECT family, core, vary FROM record_vary WHERE record = ?",
                                (record_id,)).fetchone()
        if row is None:
            return None
        return row[0], row[1], orjson.loads(row[2])

    def variation_candidates(self, family: str, core: str, exclude: str, limit: int
                             ) -> tuple[list[tuple[str, dict[str, str]]], bool]:
        """Same-family records (seed-only variations first), at most ``limit``;
        returns them and whether the family had more."""
        rows = list(self.conn.execute(
            "SELECT record, vary FROM record_vary WHERE core = ? AND record != ? LIMIT ?",
            (core, exclude, limit + 1)))
        truncated = len(rows) > limit
        rows = rows[:limit]
        room = limit - len(rows)
        if room > 0:
            more = list(self.conn.execute(
                "SELECT v.record, v.vary FROM record_vary v JOIN records r ON r.id = v.record "
                "WHERE v.family = ? AND v.core != ? AND v.record != ? "
                "ORDER BY r.captured_at DESC LIMIT ?", (family, core, exclude, room + 1)))
            truncated = len(more) > room
            rows += more[:room]
        elif not truncated:
            truncated = self.conn.execute(
                "SELECT 1 FROM record_vary WHERE family = ? AND core != ? LIMIT 1",
                (family, core)).fetchone() is not None
        return [(r[0], orjson.loads(r[1])) for r in rows], truncated

    def waiting_pixel_inputs(self) -> bool:
        """Whether some record has an A1111 pixel-MD5 input with no parent yet."""
        row = self.conn.execute(
            "SELECT 1 FROM record_inputs i WHERE length(i.sha256) = 32 AND i.blake3 IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM edges e WHERE e.child = i.record) LIMIT 1").fetchone()
        return row is not None

    def records_with_pixels(self, md5: str) -> list[str]:
        rows = self.conn.execute("SELECT record FROM record_source WHERE pixels_md5 = ?",
                                 (md5.lower(),))
        return [r[0] for r in rows]

    def recent_outputs(self, tools: Iterable[str], limit: int) -> list[tuple[str, str]]:
        """``(record id, output BLAKE3)`` of the newest records made by ``tools`` whose
        pixel MD5 is not recorded (those are found by ``records_with_pixels``).

        One walk of ``records_tool`` a tool, newest first, stopping at ``limit``:
        the cost does not grow with records made by other tools."""
        rows: list[tuple[str, str, str]] = []
        for tool in dict.fromkeys(tools):
            rows += self.conn.execute(
                "SELECT captured_at, id, output FROM records WHERE tool = ? AND NOT EXISTS ("
                "SELECT 1 FROM record_source s WHERE s.record = records.id "
                "AND s.pixels_md5 IS NOT NULL) ORDER BY captured_at DESC LIMIT ?",
                (tool, limit)).fetchall()
        rows.sort(key=lambda r: r[0] or "", reverse=True)
        return [(rid, output) for _, rid, output in rows[:limit]]

    # -- perceptual fingerprints (repro identify) ---------------------------------

    def add_prints(self, rows: Iterable[tuple[str, str | None, int | None]]) -> None:
        """Store ``(output BLAKE3, pixel hash, signed 64-bit fingerprint)`` rows."""
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.executemany("INSERT OR REPLACE INTO output_prints VALUES (?,?,?)",
                                  list(rows))

    def outputs_without_prints(self) -> list[str]:
        """Outputs of records with no fingerprint row yet (captured before there were
        any), among the records indexed since ``prints_checked`` was last called."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'prints_checked'").fetchone()
        # No DISTINCT or ORDER BY: they would walk the whole records_output index.
        rows = self.conn.execute(
            "SELECT output FROM records WHERE rowid > ? AND output NOT IN "
            "(SELECT output FROM output_prints)", (int(row[0]) if row else 0,))
        return sorted({r[0] for r in rows})

    def prints_checked(self) -> None:
        """Remember that every record indexed so far has its fingerprint row (a
        capture writes one), so that ``outputs_without_prints`` looks at newer ones only.
        Nothing is written when the mark has not moved (a lookup is a reader)."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'prints_checked'").fetchone()
        last = self.conn.execute("SELECT coalesce(max(rowid), 0) FROM records").fetchone()[0]
        if row is None or int(row[0]) != last:
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('prints_checked', ?)", (last,))

    def outputs_with_pixels(self, digest: str) -> list[str]:
        rows = self.conn.execute("SELECT output FROM output_prints WHERE pixels = ?", (digest,))
        return [r[0] for r in rows]

    def prints_with_part(self, part: int, values: Iterable[int]) -> list[tuple[str, int]]:
        """``(output, fingerprint)`` whose 16-bit ``part`` (0: the highest bits) is one
        of ``values``: a probe of that part's expression index for each value."""
        shift = 48 - 16 * part
        expr = f"(print >> {shift}) & 65535" if shift else "print & 65535"
        mask = (1 << 64) - 1
        values = list(values)
        out: list[tuple[str, int]] = []
        for start in range(0, len(values), 500):
            chunk = values[start:start + 500]
            out += [(o, p & mask) for o, p in self.conn.execute(
                f"SELECT output, print FROM output_prints WHERE {expr} IN "
                f"({','.join('?' * len(chunk))})", chunk)]
        return out

    def prints(self) -> tuple[list[str], list[int]]:
        """Every output with a fingerprint, and the fingerprints (unsigned), in step."""
        rows = self.conn.execute(
            "SELECT output, print FROM output_prints WHERE print IS NOT NULL").fetchall()
        mask = (1 << 64) - 1
        return [r[0] for r in rows], [r[1] & mask for r in rows]

    def model_names(self, blake3s: Iterable[str]) -> dict[str, list[str]]:
        """``{blake3: [names and paths it was recorded under]}``."""
        out: dict[str, list[str]] = {}
        for b in blake3s:
            names: list[str] = []
            for name, path in self.conn.execute(
                    "SELECT DISTINCT name, path FROM record_models WHERE blake3 = ?", (b,)):
                for value in (name, path):
                    if value and value not in names:
                        names.append(value)
            out[b] = names
        return out

    def records_using(self, blake3s: Iterable[str]) -> list[str]:
        """Records that used any of the model versions, newest first, each once:
        the cost is in what it returns (a set, not a search of a growing list)."""
        captured: dict[str, str] = {}
        for rid, at in self._select_in(
                "SELECT m.record, r.captured_at FROM record_models m JOIN records r "
                "ON r.id = m.record WHERE m.blake3 IN ({marks})", sorted(set(blake3s))):
            captured[rid] = at or ""
        ids = sorted(captured)
        ids.sort(key=captured.__getitem__, reverse=True)  # stable: ties stay in id order
        return ids

    def last_record_using(self, blake3: str) -> str | None:
        """The record indexed last that used this model version: one row of the
        ``record_models_blake3`` index, however often the version was used."""
        row = self.conn.execute(
            "SELECT record FROM record_models WHERE blake3 = ? ORDER BY rowid DESC LIMIT 1",
            (blake3,)).fetchone()
        return row[0] if row else None

    def models(self) -> list[dict[str, Any]]:
        """Known model versions with the names, paths and roles they were seen under,
        and how many records used them (the counts kept as records are written)."""
        rows = self.conn.execute(
            "SELECT blake3, name, path, role, uses FROM model_uses WHERE uses > 0 "
            "ORDER BY blake3, name, path, role")
        out: dict[str, dict[str, Any]] = {}
        for blake3, name, path, role, uses in rows:
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
            "SELECT blake3 FROM record_models WHERE blake3 IS NOT NULL AND name = ? UNION "
            "SELECT blake3 FROM record_models WHERE blake3 IS NOT NULL AND path = ?",
            (name, name)).fetchall()
        if not rows:
            # A suffix match reads the whole table: only when the exact look-ups failed.
            rows = self.conn.execute(
                "SELECT DISTINCT blake3 FROM record_models WHERE blake3 IS NOT NULL AND "
                "path LIKE ?", ("%/" + name,)).fetchall()
        return sorted(r[0] for r in rows)

    def model_blake3s_by_hash(self, prefix: str) -> list[str]:
        """Versions with a recorded or computed hash (sha256, autov1, tensor_sha256...)
        starting with ``prefix``, or a recorded short hash that ``prefix`` starts with."""
        prefix = prefix.lower()
        upper = prefix_upper(prefix)
        rows = self.conn.execute(
            "SELECT DISTINCT blake3 FROM model_hashes WHERE value >= ? AND value < ?",
            (prefix, upper)).fetchall()
        if not rows:
            # A1111 records 10-hex prefixes: a longer hash given by the user starts with one.
            rows = self.conn.execute(
                "SELECT DISTINCT blake3 FROM model_hashes WHERE value IN "
                f"({','.join('?' * 4)})", tuple(prefix[:n] for n in (8, 10, 12, 16))).fetchall()
        return sorted(r[0] for r in rows)

    def model_blake3s_with_prefix(self, prefix: str) -> list[str]:
        upper = prefix_upper(prefix)
        rows = self.conn.execute(
            "SELECT DISTINCT blake3 FROM record_models WHERE blake3 >= ? AND blake3 < ?",
            (prefix, upper))
        return [r[0] for r in rows]

    # -- what ``repro status`` looks at ------------------------------------------

    def model_places(self) -> list[tuple[str, str, str, str, int]]:
        """(version, recorded path, role, name, records) for every model version at
        every path it was recorded at, from the counts kept as records are written."""
        return [(b, p, r, n, u) for b, n, p, r, u in self.conn.execute(
            "SELECT blake3, name, path, role, uses FROM model_uses WHERE uses > 0")]

    def records_to_verify(self) -> set[str]:
        """Records whose readiness their model versions on disk do not settle: captured
        below full, with a model known by no version, or with no model at all."""
        return {rid for (rid,) in self.conn.execute(
            "SELECT id FROM records WHERE level IS NOT 'full' "
            "UNION SELECT record FROM record_models WHERE blake3 IS NULL "
            "UNION SELECT id FROM records WHERE id NOT IN (SELECT record FROM record_models)")}

    def records_with_inputs(self) -> list[str]:
        return [rid for (rid,) in self.conn.execute("SELECT DISTINCT record FROM record_inputs")]
