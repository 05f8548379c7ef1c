# A lane that follows no version: compared with CPython 3.11, 3.12 and 3.13.
print(sorted({3, 1, 2}), divmod(17, 5))
