# MOLT_META: min_py=3.12
# Runs against CPython 3.12 and 3.13 only (type statements are 3.12 syntax).
type Pair = tuple[int, int]
print(Pair.__value__)
