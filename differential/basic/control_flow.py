for n in range(2, 30):
    for d in range(2, n):
        if n % d == 0:
            break
    else:
        print(n, end=" ")
print()
i = 0
while True:
    i += 1
    if i % 2:
        continue
    if i > 10:
        break
    print(i, end=",")
print()
x = 7
print("big" if x > 5 else "small", x > 5 and x < 10, not x, x or 0, None or "dflt")
print(1 < x < 10, 1 < x > 10, [] or [0], 0 and 1/0)
