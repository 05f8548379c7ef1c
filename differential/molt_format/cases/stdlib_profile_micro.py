# MOLT_META: stdlib_profile=micro
import json
print(json.dumps({"profile": "micro"}))
