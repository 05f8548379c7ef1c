a, b = 17, 5
print(a + b, a - b, a * b, a / b, a // b, a % b, a ** b)
print(-a // b, -a % b, divmod(-a, b), pow(3, 200, 1000))
print(2 ** 100, -(2 ** 70) // 3, abs(-7), round(2.5), round(3.5), round(-0.5))
print(0.1 + 0.2, 1e300 * 10, -1e300 * 10, 7 / 2, 1 / 3)
print(int("ff", 16), int("-0b101", 0), hex(255), oct(8), bin(10))
