# MOLT_META: min_py=3.10
print("match statements exist")
match [1, 2]:
    case [a, b]:
        print(a + b)
