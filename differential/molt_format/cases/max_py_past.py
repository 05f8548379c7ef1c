# MOLT_META: max_py=3.8
# Every reference interpreter is newer than 3.8: SKIPPED.
print("old")
