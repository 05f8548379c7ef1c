t = (1, "two", 3.0)
a, b, c = t
print(a, b, c, t[1:], t + (4,), t * 2, len(t))
first, *rest = range(5)
*init, last = "hello"
print(first, rest, init, last)
(x, y), z = (1, 2), 3
print(x, y, z)
p, q = 1, 2
p, q = q, p
print(p, q, (1, 2) < (1, 3), tuple(sorted({3: 0, 1: 0})))
for i, (k, v) in enumerate({"a": 1, "b": 2}.items()):
    print(i, k, v)
