import math, cmath
print(math.gcd(84, 36), math.lcm(4, 6), math.comb(10, 3), math.perm(5, 2), math.factorial(12))
print(math.sqrt(2), math.isqrt(99), math.floor(-2.5), math.ceil(-2.5), math.trunc(-2.7))
print(round(math.sin(math.pi / 6), 12), math.log(1024, 2), math.log10(0.001), math.hypot(3, 4))
print(math.prod([1, 2, 3, 4]), math.copysign(3, -0.0), math.inf > 1e308, math.isnan(math.nan))
print(cmath.sqrt(-4), abs(3 + 4j), (1 + 2j) * (3 - 1j), complex("1+2j").conjugate())
