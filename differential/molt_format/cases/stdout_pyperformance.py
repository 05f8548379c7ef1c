# MOLT_META: stdout=pyperformance
# Timings differ from run to run; pyperformance turns every number into <num>.
import time
start = time.perf_counter()
total = sum(range(200000))
print(f"sum:   {total}")
print(f"time:  {time.perf_counter() - start:.6f} s")
print(f"rate   {200000 / max(time.perf_counter() - start, 1e-9):.1f}   per s")
