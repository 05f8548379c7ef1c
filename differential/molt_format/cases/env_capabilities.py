# MOLT_ENV: MOLT_CAPABILITIES=fs,env
# MOLT_ENV applies to the reference run and to every candidate run.
import os
caps = os.environ["MOLT_CAPABILITIES"].split(",")
print("capabilities:", caps)
