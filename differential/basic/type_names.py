# The Cython lane gives functions and generators its own types (cython_function_or_method).
# MOLT_META: expect_fail=native expect_fail_reason=cython-function-types
def f():
    pass
print(type(f).__name__, type(lambda: 0).__name__)
print(type((x for x in [])).__name__)
