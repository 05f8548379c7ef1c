# MOLT_META: skip=its output depends on the wall clock
import time
print(time.time())
