# MOLT_META: xfail=functions and generators have Cython types (cython_function_or_method)
def f():
    pass
print(type(f).__name__, type(lambda: 0).__name__)
print(type((x for x in [])).__name__)
