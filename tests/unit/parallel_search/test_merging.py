"""Merging: one product per JAN (or normalised title), every offer kept, ranked deterministically."""

from __future__ import annotations

from parallel_search.merging import merge_results


def test_same_jan_from_two_shops_is_one_product_with_both_offers():
    merged = merge_results("tea", [
        ("shop-a", [{"id": "a1", "title": "Tea A", "price": 300, "jan": "490"}]),
        ("shop-b", [{"id": "b1", "title": "Tea (B listing)", "price": 250, "jan": "490"}]),
    ])
    assert len(merged) == 1
    assert merged[0]["best_price"] == 250
    assert [offer["source"] for offer in merged[0]["offers"]] == ["shop-a", "shop-b"]


def test_without_jan_titles_are_compared_normalised():
    merged = merge_results("tea", [
        ("shop-a", [{"id": "a1", "title": "Ｇreen  TEA", "price": 1}]),
        ("shop-b", [{"id": "b1", "title": "green tea", "price": 2}]),
    ])
    assert len(merged) == 1 and merged[0]["key"] == "title:green tea"


def test_ranking_keyword_hits_then_price_then_title():
    merged = merge_results("green tea", [
        ("shop-a", [
            {"id": "1", "title": "black tea", "price": 100},
            {"id": "2", "title": "green tea large", "price": 900},
            {"id": "3", "title": "green tea small", "price": 500},
            {"id": "4", "title": "green tea no price"},
        ]),
    ])
    assert [p["id"] if "id" in p else p["offers"][0]["id"] for p in merged] == ["3", "2", "4", "1"]
