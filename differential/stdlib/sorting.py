people = [("ann", 31), ("bob", 25), ("cy", 31), ("dee", 19)]
print(sorted(people, key=lambda p: (-p[1], p[0])))
print(sorted(people, key=lambda p: p[1], reverse=True))
words = "the Quick brown fox Jumps over the lazy dog".split()
print(sorted(words), sorted(words, key=str.lower), sorted(words, key=len))
print(sorted([3, 1, 2], reverse=True), sorted("bca"), max(words, key=len), min([], default=None))
stable = sorted([(1, "b"), (0, "x"), (1, "a")], key=lambda t: t[0])
print(stable)
