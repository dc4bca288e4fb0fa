"""Merge the two APIs' items: de-duplicate the same product, then rank.

Two listings are the same product when they share a JAN/EAN barcode, or, when
either lacks one, the same normalised title. A merged product keeps every
offer (one per source listing) and its lowest price.

Ranking: more keywords found in the title first, then the lower best price,
then the title (so the order is total and deterministic).
"""

from __future__ import annotations

import unicodedata
from typing import Any, Iterable


def _normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _product_key(item: dict[str, Any]) -> str:
    jan = str(item.get("jan") or "").strip()
    return f"jan:{jan}" if jan else f"title:{_normalise(str(item.get('title', '')))}"


def _price(item: dict[str, Any]) -> float | None:
    price = item.get("price")
    return float(price) if isinstance(price, (int, float)) and not isinstance(price, bool) else None


def merge_results(keywords: str, results: Iterable[tuple[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """`results` is (source name, items) per API; returns ranked, de-duplicated products."""
    products: dict[str, dict[str, Any]] = {}
    for source, items in results:
        for item in items:
            key = _product_key(item)
            offer = {"source": source, "id": item.get("id"), "price": _price(item), "url": item.get("url")}
            product = products.setdefault(key, {"key": key, "title": item.get("title", ""), "offers": []})
            product["offers"].append(offer)
    terms = [_normalise(term) for term in keywords.split() if term.strip()]
    for product in products.values():
        prices = [offer["price"] for offer in product["offers"] if offer["price"] is not None]
        product["best_price"] = min(prices) if prices else None
        title = _normalise(product["title"])
        product["keyword_hits"] = sum(1 for term in terms if term in title)
    return sorted(
        products.values(),
        key=lambda p: (-p["keyword_hits"], p["best_price"] is None, p["best_price"] or 0.0, p["title"]),
    )
