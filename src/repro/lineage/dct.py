"""The fingerprint's DCT: the 8x8 lowest frequencies of a 32x32 grayscale image,
one bit a coefficient (above the median of the 63 AC terms or not).

The bits must stay those of every earlier capture (``identify`` and
``variations`` compare stored fingerprints with new ones), and those were
computed in floats in one order, ``reference_coefficients``: a coefficient a
rounding error away from the median would flip under any other order. That
reference is 320 Python sums of 32 products, most of a small output's decode.

So ``fingerprint_bits`` first computes the same transform in integers, the
basis scaled and rounded, many sums at once: an int holds a whole row of
pixels, one a 64-bit lane, so one multiplication by a weight scales 32 values
and one addition adds 32 pairs (and the basis's mirror symmetry halves the
multiplications, again and again for the even frequencies). Those integers
differ from the reference's floats by less than ``MAX_ERROR``; when every
coefficient but the median itself lies farther than ``2 * MAX_ERROR`` from the
median, each lies on the same side of it in both, and the bits are the
reference's. When one does not (a flat image, a mirror-symmetric one: exact
ties, which rounding decides), the reference decides.
"""

from __future__ import annotations

import math
from array import array
from itertools import chain, repeat
from operator import add, mul, sub
from typing import Literal

#: Side of the grayscale image the DCT is taken of, and of the kept low frequencies.
SIDE = 32
KEEP = 8

#: The DCT-II basis rows for the KEEP lowest frequencies of SIDE samples.
BASIS = [[math.cos(math.pi * (2 * x + 1) * u / (2 * SIDE)) for x in range(SIDE)]
         for u in range(KEEP)]


def fingerprint_bits(pixels: bytes) -> int:
    """The fingerprint of a SIDE x SIDE grayscale image (its pixels row by row): the
    reference's bits, mostly without its floats."""
    bits = exact_bits(pixels)
    return reference_bits(pixels) if bits is None else bits


def reference_bits(pixels: bytes) -> int:
    coefficients = reference_coefficients(pixels)
    ac = sorted(coefficients[1:])
    return bits_above(coefficients, ac[len(ac) // 2])


def reference_coefficients(pixels: bytes) -> list[float]:
    """The 64 coefficients in floats, as every fingerprint was first computed: the
    kept frequencies along x of every row (a column per frequency), then along y.
    ``sum(map(mul, ...))`` adds the products in the order a loop would."""
    rows = [pixels[y * SIDE:(y + 1) * SIDE] for y in range(SIDE)]
    columns = [[sum(map(mul, basis, row)) for row in rows] for basis in BASIS]
    return [sum(map(mul, BASIS[v], column)) for v in range(KEEP) for column in columns]


def bits_above(coefficients: list[float] | list[int], median: float) -> int:
    """One bit a coefficient, the first highest: above the median or not."""
    return int("".join(["1" if c > median else "0" for c in coefficients]), 2)


def exact_bits(pixels: bytes) -> int | None:
    """The fingerprint from the integer transform, or None when a coefficient lies
    too near the median for the integers to tell which side the floats put it."""
    coefficients = integer_coefficients(pixels)
    ac = sorted(coefficients[1:])
    middle = len(ac) // 2
    median = ac[middle]
    clear = (ac[middle - 1] < median - _MARGIN and ac[middle + 1] > median + _MARGIN
             and abs(coefficients[0] - median) > _MARGIN)
    return bits_above(coefficients, median) if clear else None


# The integer transform. A packed int is a vector: lane i is bits [w*i, w*(i+1))
# for a lane width w. Packed ints are only added, subtracted and scaled, so each
# stays the exact sum of its lanes times their places, whatever their signs; a
# bias of half a lane's range, added before one is read back, makes every lane
# non-negative, and then the int's bytes are its lanes.
#
# Along y first (SCALE_Y: sums of 32 pixels times weights below 2**49 stay under
# 2**62, in 64-bit lanes), then along x (a coefficient stays under
# 32 * 2**62 * 2**59 = 2**126, in 128-bit lanes). The order does not matter to
# exact sums; the reference's order is kept in the coefficients' order.
SCALE_Y = 49
SCALE_X = 59
_LANE_Y = 8  # bytes
_LANE_X = 16
_WEIGHTS_Y = [[round(b * 2**SCALE_Y) for b in basis] for basis in BASIS]
_WEIGHTS_X = [[round(b * 2**SCALE_X) for b in basis] for basis in BASIS]


def _transform(vectors: list[int], weights: list[list[int]], out: list[int],
               frequencies: tuple[int, ...] = tuple(range(KEEP))) -> list[int]:
    """Into ``out[f]`` for each frequency f, the sum over i of ``weights[f][i] *
    vectors[i]``. The basis is mirror-symmetric: over the n samples a level sees,
    the weight at n-1-i is the weight at i for the even half of its frequencies
    (every other one) and minus it for the odd half. So the odd half needs only
    the first half's differences of mirrored samples, and the even half is the
    same sum over their sums, a level down (KEEP a power of two); frequency 0,
    every weight ``2**scale``, is their sum, scaled."""
    if len(frequencies) == 1:
        out[0] = sum(vectors) * weights[0][0]
        return out
    half = len(vectors) // 2
    head, mirrored = vectors[:half], vectors[:half - 1:-1]
    differences = list(map(sub, head, mirrored))
    for f in frequencies[1::2]:
        out[f] = sum(map(mul, weights[f], differences))
    return _transform(list(map(add, head, mirrored)), weights, out, frequencies[::2])


def _lanes(count: int, lane: int, value: int) -> int:
    """A packed int holding ``value`` in each of ``count`` lanes of ``lane`` bytes."""
    return sum(value << (8 * lane * i) for i in range(count))


def _half_range(lane: int) -> int:
    return 1 << (8 * lane - 1)


_READ_Y = _lanes(SIDE, _LANE_Y, _half_range(_LANE_Y))
_READ_X = _lanes(KEEP, _LANE_X, _half_range(_LANE_X))
# The bias a column's lanes carry from reading the sums along y back, and what
# it adds to each sum along x (the transform is linear: its transform).
_CARRIED = _transform([_lanes(KEEP, _LANE_X, _half_range(_LANE_Y))] * SIDE,
                      _WEIGHTS_X, [0] * KEEP)

# How far an integer coefficient, read back in units of 2**-UNIT (the high 64
# bits of its lane), can be from the reference's float. Each weight the folded
# transform applies is within 3.2e-15 of its float in BASIS (half a unit of
# 2**-scale for the rounding, and the floats' own mismatch between a sample and
# its mirror, up to 3.2e-15: tests/lineage/test_dct.py measures it), so a sum
# along y is within 8,160 * 3.2e-15 (8,160 = 32 * 255 bounds a column's pixels)
# and a coefficient within 32 * 8,160 * 3.2e-15 * 2 < 1.7e-9 of the same sums
# with the floats taken as exact; the reference's floats, two dot products of 32
# terms, are within 2 * 32 * 8,160 * 32 * 2**-53 < 1.9e-9 of those; dropping the
# low 64 bits costs 2**-44. So under 4e-9 in all; the margin, 2**-20 (about
# 1e-6), is far beyond twice that.
UNIT = SCALE_Y + SCALE_X - 64
MAX_ERROR = math.ceil(4e-9 * 2**UNIT)
_MARGIN = 2 ** (UNIT - 20)
assert _MARGIN > 2 * MAX_ERROR


def _unpacked(packed: list[int], lane: int, count: int, bias: int) -> array[int]:
    """The lanes of packed ints plus ``bias``, as 64-bit words in order."""
    return array("Q", b"".join((p + bias).to_bytes(lane * count, "little") for p in packed))


_LITTLE: Literal["little"] = "little"


def _packed(data: bytes, size: int) -> list[int]:
    """Consecutive runs of ``size`` bytes as packed ints."""
    runs = map(data.__getitem__, map(slice, range(0, len(data), size),
                                     range(size, len(data) + 1, size)))
    return list(map(int.from_bytes, runs, repeat(_LITTLE)))


def integer_coefficients(pixels: bytes) -> list[int]:
    """The 64 coefficients, in units of ``2**-UNIT`` plus ``2**63`` (rounded down),
    in the reference's order (frequency along y, then along x)."""
    wide = bytearray(SIDE * SIDE * _LANE_Y)
    wide[::_LANE_Y] = pixels  # a pixel a lane: row y is the y-th SIDE lanes
    along_y = _transform(_packed(bytes(wide), SIDE * _LANE_Y), _WEIGHTS_Y, [0] * KEEP)
    by_column = _unpacked(along_y, _LANE_Y, SIDE, _READ_Y)
    # Regroup: column x's KEEP sums (one a frequency along y) in wider lanes.
    words = _LANE_X // 8
    regrouped = array("Q", bytes(SIDE * KEEP * _LANE_X))
    for v in range(KEEP):
        regrouped[words * v::words * KEEP] = by_column[v * SIDE:(v + 1) * SIDE]
    along_x = _transform(_packed(regrouped.tobytes(), KEEP * _LANE_X), _WEIGHTS_X, [0] * KEEP)
    exact = list(map(sub, along_x, _CARRIED))
    # Lane v of exact[u] is coefficient (v, u); its high word, its value in units.
    high = _unpacked(exact, _LANE_X, KEEP, _READ_X)[words - 1::words]
    return list(chain.from_iterable(high[v::KEEP] for v in range(KEEP)))
