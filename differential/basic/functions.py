def f(a, b=2, *args, c, d=4, **kw):
    return (a, b, args, c, d, sorted(kw.items()))

print(f(1, c=3))
print(f(1, 5, 6, 7, c=8, e=9, z=0))
print(f(*[1, 2, 3], **{"c": 0, "x": 1}))

def pos_only(a, b, /, c):
    return a + b + c

print(pos_only(1, 2, c=3))

def mutable_default(x, acc=[]):
    acc.append(x)
    return acc

print(mutable_default(1), mutable_default(2))
print((lambda *a, **k: (a, k))(1, 2, z=3))
