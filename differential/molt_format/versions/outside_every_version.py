# MOLT_META: min_py=3.14
# No reference interpreter of the matrix is in range: SKIPPED.
print("3.14 only")
