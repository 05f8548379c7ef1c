from contextlib import contextmanager, suppress, ExitStack

class Managed:
    def __init__(self, name):
        self.name = name
    def __enter__(self):
        print("enter", self.name)
        return self
    def __exit__(self, et, ev, tb):
        print("exit", self.name, et.__name__ if et else None)
        return et is KeyError

with Managed("a") as m, Managed("b"):
    print("body", m.name)
with Managed("c"):
    raise KeyError("swallowed")

@contextmanager
def tag(t):
    print(f"<{t}>")
    yield t
    print(f"</{t}>")

with tag("p"), suppress(ZeroDivisionError):
    1 / 0
with ExitStack() as st:
    for t in "xy":
        st.enter_context(tag(t))
