"""Prime factors, divisors and ordered factorisations of loop bounds, fast for any size.

In: positive integers (a dim's bound, a factor of it). Out: prime factors with
multiplicity, divisors, and counts of ordered factorisations (how many ways a bound splits
over k loops), all exact. Shared by the map space (dslc.mapper.space: splits and moves) and
the lower bounds (dslc.cost.bounds: spatial unrollings). It does not decide where factors
go (dslc.mapper.space).

Prime factorisation is trial division by the primes below 2^10, then Miller-Rabin and
Pollard's rho (Brent's variant) on what is left: microseconds for the bounds a spec can
write (the front end keeps dims at most 2^31 - 1) and milliseconds up to 2^64, so a huge
dim never costs the O(n) or O(sqrt n) loops a plain trial division would. Miller-Rabin with
the first 12 primes as bases is exact below 3.3 * 10^24; above that it is a strong
probable-prime test (no counterexample is known), which only matters for dims no cost model
can represent (the map space refuses bounds of 2^62 or more).
"""

from __future__ import annotations

import math
from functools import cache

_SMALL_PRIMES = tuple(p for p in range(2, 1024) if all(p % q for q in range(2, math.isqrt(p) + 1)))
_WITNESSES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)


def is_prime(n: int) -> bool:
    """Whether n is prime (deterministic below 3.3e24; module doc)."""
    if n < 2:
        return False
    for p in _WITNESSES:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for a in _WITNESSES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _rho(n: int) -> int:
    """A non-trivial factor of the odd composite n (Pollard's rho, Brent's cycle search;
    deterministic: the constants are tried in order)."""
    for c in range(1, n):
        y, m, g, r, q = 2, 128, 1, 1, 1
        x = ys = 2
        while g == 1:
            x = y
            for _ in range(r):
                y = (y * y + c) % n
            k = 0
            while k < r and g == 1:
                ys = y
                for _ in range(min(m, r - k)):
                    y = (y * y + c) % n
                    q = q * abs(x - y) % n
                g = math.gcd(q, n)
                k += m
            r *= 2
        if g == n:
            g = 1
            while g == 1:
                ys = (ys * ys + c) % n
                g = math.gcd(abs(x - ys), n)
        if g != n:
            return g
    raise ArithmeticError(f"no factor of {n} found")  # pragma: no cover - n is composite


@cache
def prime_factors(n: int) -> tuple[int, ...]:
    """Prime factors with multiplicity, ascending (1 has none)."""
    found: list[int] = []
    for p in _SMALL_PRIMES:
        if p * p > n:
            break
        while n % p == 0:
            found.append(p)
            n //= p
    stack = [n] if n > 1 else []
    while stack:
        m = stack.pop()
        if m < _SMALL_PRIMES[-1] ** 2 or is_prime(m):
            found.append(m)
            continue
        factor = _rho(m)
        stack += [factor, m // factor]
    return tuple(sorted(found))


def prime_powers(n: int) -> tuple[tuple[int, int], ...]:
    """(prime, exponent) pairs of n, ascending."""
    factors = prime_factors(n)
    return tuple((p, factors.count(p)) for p in sorted(set(factors)))


@cache
def divisors(n: int) -> tuple[int, ...]:
    """Every divisor of n (1 and n included), ascending: built from the prime powers, so
    the work is the number of divisors, not n."""
    found = [1]
    for p, e in prime_powers(n):
        found = [d * p ** k for d in found for k in range(e + 1)]
    return tuple(sorted(found))


@cache
def count_splits(n: int, k: int) -> int:
    """Ordered factorisations of n into k factors (factors of 1 allowed): per prime power
    p^e, C(e + k - 1, k - 1) placements of its e copies (stars and bars)."""
    if k == 0:
        return 1 if n == 1 else 0
    return math.prod(math.comb(e + k - 1, k - 1) for _, e in prime_powers(n))


@cache
def count_proper_splits(n: int, k: int) -> int:
    """Ordered factorisations of n into exactly k factors each above 1 (inclusion-exclusion
    over the factors forced to 1)."""
    return sum((-1) ** i * math.comb(k, i) * count_splits(n, k - i) for i in range(k + 1))
