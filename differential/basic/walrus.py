data = [3, 8, 1, 12, 7]
if (n := len(data)) > 3:
    print("long", n)
print([y for x in data if (y := x * 2) > 10])
total = 0
print([total := total + x for x in data], total)
