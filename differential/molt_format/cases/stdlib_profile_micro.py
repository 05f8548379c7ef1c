# MOLT_META: stdlib_profile=micro
# The compiler builds it with the micro profile (the molt-native lane's default is
# full); mc's programs see the profile they were built with. CPython has none.
import json
import os
print(json.dumps({"profile": os.environ.get("MC_STDLIB_PROFILE", "micro")}))
