def counter():
    n = 0
    def inc(step=1):
        nonlocal n
        n += step
        return n
    return inc

c = counter()
print(c(), c(), c(10))
adders = [lambda x, i=i: x + i for i in range(3)]
print([a(10) for a in adders])
late = [lambda x: x + i for i in range(3)]
print([a(10) for a in late])
total = 0
def add_global(v):
    global total
    total += v
add_global(5); add_global(6)
print(total)
