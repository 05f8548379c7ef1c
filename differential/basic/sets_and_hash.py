a = {1, 2, 3, 4}
b = {3, 4, 5}
print(sorted(a | b), sorted(a & b), sorted(a - b), sorted(a ^ b))
print(a <= {1, 2, 3, 4, 5}, a.isdisjoint({9}), frozenset(b) == frozenset([5, 4, 3]))
words = {"pear", "apple", "fig", "kiwi", "plum"}
print(list(words))          # string hashing: the same under PYTHONHASHSEED=0
print(hash(42), hash((1, 2)), hash(-1))
