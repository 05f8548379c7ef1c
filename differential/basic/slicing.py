xs = list(range(20))
print(xs[::3], xs[-3:], xs[5:2:-1], xs[::-4], xs[100:], xs[-100:2])
xs[2:5] = ["a"]
print(xs[:6], len(xs))
del xs[::2]
print(xs)
s = slice(1, 10, 2)
print("abcdefghijk"[s], s.indices(5))
