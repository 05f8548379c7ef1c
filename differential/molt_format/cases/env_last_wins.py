# MOLT_ENV: GREETING=hello
# MOLT_ENV: GREETING=bonjour
# A MOLT_ENV value is one string; the last one wins.
import os
print(os.environ["GREETING"])
