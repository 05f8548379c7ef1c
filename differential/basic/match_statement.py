def describe(x):
    match x:
        case 0:
            return "zero"
        case int(n) if n < 0:
            return "negative"
        case [a, b]:
            return f"pair {a},{b}"
        case {"kind": k, **rest}:
            return f"kind {k} {sorted(rest)}"
        case str() as s:
            return "str " + s
        case _:
            return "other"

for v in [0, -4, [1, 2], {"kind": "k", "z": 1}, "s", 3.5]:
    print(describe(v))
