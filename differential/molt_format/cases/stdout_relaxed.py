# MOLT_META: stdout=relaxed
# Addresses and reference counts differ from run to run; relaxed normalises them.
import sys
obj = object()
print(obj)
print(f"id=0x{id(obj):x} at 0x{id(sys):x}")
print(f"refcount = {sys.getrefcount(obj)}")
