def fact(n):
    r = 1
    for i in range(2, n + 1):
        r *= i
    return r

f = fact(60)
print(f)
print(f.bit_length(), f % 1000003, len(str(f)))
print((1 << 200) - 1 == int("1" * 200, 2))
print(sum(int(d) for d in str(2 ** 1000)))
