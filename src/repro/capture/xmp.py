"""Pick single fields out of an XMP packet without an XML parser.

XMP from untrusted files is read with bounded regular expressions rather
than an XML library: no entity expansion, no external references, and only
the few fields generators use (``xmp:CreatorTool``, ``dc:description``,
``exif:UserComment``, ``Iptc4xmpExt:DigitalSourceType``).
"""

from __future__ import annotations

import re

_LI_RE = re.compile(r"<rdf:li\b[^>]*>(.*?)</rdf:li>", re.DOTALL)
_TAG_RE = re.compile(r"<[^>]{0,2000}>")


def xmp_field(xmp: str, qname: str) -> str | None:
    """The text of an XMP property written as an attribute or an element.

    For ``rdf:Alt``/``rdf:Seq`` values the first ``rdf:li`` is returned.
    """
    import html  # 1 ms, and most files carry no XMP

    name = re.escape(qname)
    attr = re.search(name + r"""\s*=\s*(?:"([^"]*)"|'([^']*)')""", xmp)
    if attr:
        return html.unescape(attr.group(1) if attr.group(1) is not None else attr.group(2))
    elem = re.search(r"<" + name + r"\b[^>]*?(?<!/)>(.*?)</" + name + r"\s*>", xmp, re.DOTALL)
    if not elem:
        return None
    inner = elem.group(1)
    item = _LI_RE.search(inner)
    if item:
        inner = item.group(1)
    return html.unescape(_TAG_RE.sub("", inner)).strip()
