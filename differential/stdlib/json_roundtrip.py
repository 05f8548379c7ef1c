import json
doc = {"name": "moltb", "n": [1, 2.5, None, True], "nested": {"k": "v", "u": "é☃"}}
s = json.dumps(doc, sort_keys=True)
print(s)
print(json.dumps(doc, indent=2, ensure_ascii=False))
back = json.loads(s)
print(back == doc, type(back["n"][1]).__name__)
try:
    json.loads("{bad json}")
except json.JSONDecodeError as e:
    print("error at", e.pos)
