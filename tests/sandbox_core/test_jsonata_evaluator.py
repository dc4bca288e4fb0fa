"""sandbox/engine/jsonata.py beyond the AWS-documented cases: data jsonatapy alone cannot take."""

from __future__ import annotations

import pytest

from sandbox.engine.jsonata import QueryEvaluationError, evaluate

VALIDATE = "$type($states.input.keywords) = 'string' and $states.input.keywords != ''"


def test_a_lone_surrogate_in_the_input_is_data_like_any_other_string():
    # GIVEN an input whose string holds a lone surrogate (JSON can carry "\ud800"; JSONata's UTF-16 strings hold it)
    states = {"input": {"keywords": "\ud800 tea", "\udfff": ["\ud800"]}}
    # WHEN expressions read, compare, measure and pass it on
    # THEN they see it as AWS's JSONata does, and it comes back unchanged
    assert evaluate(VALIDATE, states=states) is True
    assert evaluate("$states.input.keywords", states=states) == "\ud800 tea"
    assert evaluate("$length($states.input.keywords)", states=states) == 5
    assert evaluate("$states.input", states=states) == states["input"]
    assert evaluate("$kw & '!'", variables={"kw": "\ud800"}) == "\ud800!"


def test_data_holding_a_lone_surrogate_and_a_stand_in_code_point_is_refused_by_name():
    # GIVEN the same data with stand-in code points already in it, which the evaluator could not tell apart
    states = {"input": {"keywords": "\ud800 tea \U0010f900"}}
    # WHEN evaluated THEN it fails by AWS's error name, saying why, rather than give a wrong string
    with pytest.raises(QueryEvaluationError, match="lone surrogates and code points U\\+10F800"):
        evaluate("$states.input.keywords", states=states)


def test_stand_in_code_points_alone_stay_what_they_are():
    assert evaluate("$states.input.k", states={"input": {"k": "\U0010f900"}}) == "\U0010f900"
