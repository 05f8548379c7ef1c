# The Cython lane differs: sys._getframe sees the module loader, annotations stay strings.
# MOLT_META: expect_fail=native expect_fail_reason=frames-and-annotations
import sys, inspect

def where():
    return sys._getframe().f_code.co_name, sys._getframe(1).f_code.co_name

def caller():
    return where()

print(caller())
def sig(a, b: int = 2, *c, d, **e) -> str:
    pass
print(inspect.signature(sig))
print(sig.__code__.co_varnames[:4], sig.__defaults__)
