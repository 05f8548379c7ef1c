from fractions import Fraction
from decimal import Decimal, getcontext
print(Fraction(3, 4) + Fraction(1, 6), Fraction("0.125"), Fraction(1, 3) ** 2, float(Fraction(7, 8)))
getcontext().prec = 30
print(Decimal(1) / Decimal(7), Decimal("0.1") * 3, Decimal("2").sqrt())
print(round(Decimal("2.675"), 2), Decimal("1.10") + Decimal("2.205"), Fraction(Decimal("0.5")))
