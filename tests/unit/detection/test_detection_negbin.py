"""The negative-binomial maths against brute-force sums of the pmf."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.detection.negbin import (
    betainc,
    normal_ppf,
    quantile,
    upper_tail,
)


def pmf(k: int, mean: float, alpha: float) -> float:
    r = 1.0 / alpha
    p = r / (r + mean)
    return math.exp(
        math.lgamma(k + r)
        - math.lgamma(r)
        - math.lgamma(k + 1)
        + r * math.log(p)
        + k * math.log1p(-p)
    )


@pytest.mark.parametrize("mean", [0.05, 0.7, 3.0, 12.0, 80.0, 400.0])
@pytest.mark.parametrize("alpha", [0.01, 0.2, 1.0, 4.0])
def test_upper_tail_matches_brute_force(mean: float, alpha: float) -> None:
    probs = [pmf(k, mean, alpha) for k in range(6000)]
    for x in [1, 2, 5, 10, 30, 100, 400, 1500]:
        exact = max(0.0, 1.0 - math.fsum(probs[:x]))
        got = upper_tail(float(x), mean, alpha)
        if exact > 1e-9:
            assert got == pytest.approx(exact, rel=1e-7), x
        else:  # far tail: compare with the tail sum itself, not 1 - (1 - tiny)
            tail = math.fsum(probs[x:])
            assert got == pytest.approx(tail, rel=1e-6, abs=1e-300), x


@pytest.mark.parametrize("mean", [0.05, 0.7, 3.0, 12.0, 80.0])
@pytest.mark.parametrize("alpha", [0.01, 0.3, 2.0])
@pytest.mark.parametrize("prob", [0.005, 0.5, 0.995, 0.999])
def test_quantile_is_the_smallest_k_reaching_prob(mean: float, alpha: float, prob: float) -> None:
    k = quantile(prob, mean, alpha)
    cdf_k = math.fsum(pmf(j, mean, alpha) for j in range(k + 1))
    assert cdf_k >= prob - 1e-12
    if k > 0:
        assert cdf_k - pmf(k, mean, alpha) < prob + 1e-12


def test_edge_cases() -> None:
    assert upper_tail(0.0, 5.0, 0.2) == 1.0
    assert upper_tail(-3.0, 5.0, 0.2) == 1.0
    assert quantile(0.99, 0.0, 0.2) == 0
    assert betainc(2.0, 3.0, 0.0) == 0.0
    assert betainc(2.0, 3.0, 1.0) == 1.0
    assert normal_ppf(0.5) == pytest.approx(0.0, abs=1e-9)
    assert normal_ppf(0.975) == pytest.approx(1.959964, abs=1e-6)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    x=st.floats(0.0, 500.0),
    dx=st.floats(0.0, 50.0),
    mean=st.floats(0.01, 300.0),
    alpha=st.floats(0.01, 5.0),
)
def test_upper_tail_is_a_decreasing_probability(
    x: float, dx: float, mean: float, alpha: float
) -> None:
    a = upper_tail(x, mean, alpha)
    b = upper_tail(x + dx, mean, alpha)
    assert 0.0 <= b <= 1.0
    assert 0.0 <= a <= 1.0
    assert b <= a + 1e-12  # the continued fraction is accurate to ~1e-13 near p = 1
