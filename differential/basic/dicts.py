d = {"b": 2, "a": 1}
d["c"] = 3
d.setdefault("d", 4)
print(d, list(d), list(d.values()), list(d.items()))
print(d.get("zz", "missing"), "a" in d, d.pop("b"), d)
d.update(e=5, a=10)
print(d, {**d, "f": 6}, d | {"g": 7})
print(sorted(d, key=d.get, reverse=True))
counts = {}
for w in "the cat and the hat and the bat".split():
    counts[w] = counts.get(w, 0) + 1
print(counts)
print(dict(zip("abc", range(3))), dict.fromkeys("xy", 0))
