import functools, operator
print(functools.reduce(operator.mul, range(1, 11)), functools.reduce(lambda a, b: a + b, "xyz", "!"))
p = functools.partial(int, base=2)
print(p("1011"), p.func.__name__, p.keywords)
@functools.total_ordering
class V:
    def __init__(self, v): self.v = v
    def __eq__(self, o): return self.v == o.v
    def __lt__(self, o): return self.v < o.v
print(V(1) <= V(2), V(3) > V(2), sorted([V(3), V(1)], key=functools.cmp_to_key(lambda a, b: b.v - a.v))[0].v)
@functools.singledispatch
def show(x): return "obj"
@show.register
def _(x: int): return "int"
print(show(1), show("s"), operator.itemgetter(1, 0)("ab"), operator.attrgetter("real")(3))
