def fib():
    a, b = 0, 1
    while True:
        yield a
        a, b = b, a + b

g = fib()
print([next(g) for _ in range(15)])

def echo():
    got = yield "ready"
    while got is not None:
        got = yield got * 2

e = echo()
print(next(e), e.send(3), e.send(10))

def inner():
    yield 1
    yield 2
    return "done"

def outer():
    r = yield from inner()
    yield r

print(list(outer()))
def closing():
    try:
        yield 1
        yield 2
    finally:
        print("cleanup")
c = closing(); print(next(c)); c.close()
