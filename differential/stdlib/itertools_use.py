import itertools as it
print(list(it.islice(it.count(10, 5), 4)), list(it.accumulate([1, 2, 3, 4])))
print(list(it.chain("ab", [1, 2])), list(it.permutations("abc", 2))[:4])
print(list(it.combinations(range(4), 2)), list(it.product("ab", repeat=2)))
print([(k, len(list(g))) for k, g in it.groupby("aaabccdd")])
print(list(it.zip_longest("abc", "x", fillvalue="-")), list(it.takewhile(lambda x: x < 3, range(10))))
print(list(it.starmap(pow, [(2, 5), (3, 2)])), list(it.pairwise("abcd")), list(it.compress("abcdef", [1, 0, 1])))
