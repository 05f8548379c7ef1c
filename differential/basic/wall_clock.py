# Its output depends on the wall clock.
# MOLT_META: skip=wall-clock
import time
print(time.time())
