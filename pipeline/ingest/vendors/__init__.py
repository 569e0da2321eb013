"""Vendor pushes: ``POST /api/ingest/{vendor}`` for Brandwatch, Talkwalker and Meltwater.

One module per vendor maps that vendor's documented JSON to the ``mentions.raw`` contract
(:mod:`.brandwatch`, :mod:`.talkwalker`, :mod:`.meltwater`, behind :mod:`.base`); :mod:`.push`
authenticates the request and hands the mapped items to the same decode / produce / dead-letter
code as ``POST /api/mentions`` (:func:`pipeline.ingest.http.deliver`). docs/sources.md, "Vendor
pushes", says what each vendor documents and what was assumed.
"""

from __future__ import annotations

from pipeline.ingest.vendors.base import VendorAdapter
from pipeline.ingest.vendors.brandwatch import BRANDWATCH
from pipeline.ingest.vendors.meltwater import MELTWATER
from pipeline.ingest.vendors.talkwalker import TALKWALKER

ADAPTERS: dict[str, VendorAdapter] = {a.name: a for a in (BRANDWATCH, TALKWALKER, MELTWATER)}

__all__ = ["ADAPTERS", "VendorAdapter"]
