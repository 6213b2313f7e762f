"""The one backoff: capped before exponentiation, jittered below the cap, reset on success."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldproof.backoff import Backoff, BackoffPolicy
from fieldproof.errors import FieldproofValueError

policies = st.builds(
    BackoffPolicy,
    initial_s=st.floats(1e-3, 10.0),
    max_s=st.floats(10.0, 86_400.0),
    factor=st.floats(1.0, 1e6),
    jitter=st.floats(0.0, 1.0),
)


def test_delays_grow_then_cap_and_reset() -> None:
    backoff = Backoff(BackoffPolicy(initial_s=0.5, max_s=4.0, jitter=0.0))
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.failures == 0
    assert backoff.next_delay() == 0.5


def test_a_hundred_thousand_failures_never_overflow_nor_pass_the_cap() -> None:
    backoff = Backoff(BackoffPolicy(initial_s=0.5, max_s=30.0, factor=2.0), random.Random(1).random)
    delays = [backoff.next_delay() for _ in range(100_000)]
    assert backoff.failures == 100_000
    assert all(0.0 <= delay <= 30.0 for delay in delays)
    assert BackoffPolicy(initial_s=0.5, max_s=30.0).ceiling(10**18) == 30.0


def test_jitter_only_shortens_by_its_share() -> None:
    policy = BackoffPolicy(initial_s=1.0, max_s=8.0, jitter=0.2)
    backoff = Backoff(policy, random.Random(7).random)
    delays = [backoff.next_delay() for _ in range(8)]
    plain = [min(8.0, 2.0**i) for i in range(8)]
    assert all(0.8 * p <= d <= p for p, d in zip(plain, delays, strict=True))


def test_full_jitter_spans_zero_to_the_ceiling() -> None:
    policy = BackoffPolicy(initial_s=1.0, max_s=8.0, jitter=1.0)
    assert policy.delay(10, 0.0) == 8.0
    assert policy.delay(10, 0.999) == pytest.approx(0.008)


@given(policies, st.integers(0, 10**9), st.floats(0.0, 1.0, exclude_max=True))
def test_delay_within_zero_and_cap(policy: BackoffPolicy, failures: int, uniform: float) -> None:
    delay = policy.delay(failures, uniform)
    assert 0.0 <= delay <= policy.max_s
    assert delay <= policy.ceiling(failures)


@given(policies, st.integers(0, 10**9), st.integers(0, 10**9))
def test_ceiling_never_decreases(policy: BackoffPolicy, failures: int, more: int) -> None:
    assert policy.initial_s <= policy.ceiling(failures) <= policy.ceiling(failures + more)
    assert policy.ceiling(failures + more) <= policy.max_s


@given(policies, st.integers(1, 300), st.integers(0, 2**32))
def test_reset_starts_from_the_first_delay(policy: BackoffPolicy, n: int, seed: int) -> None:
    backoff = Backoff(policy, random.Random(seed).random)
    for _ in range(n):
        backoff.next_delay()
    backoff.reset()
    first = backoff.next_delay()
    assert (1.0 - policy.jitter) * policy.initial_s - 1e-12 <= first <= policy.initial_s


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial_s": 0.0},
        {"initial_s": 2.0, "max_s": 1.0},
        {"max_s": float("inf")},
        {"factor": 0.5},
        {"jitter": 1.5},
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(FieldproofValueError):
        BackoffPolicy(**kwargs)
