class Countdown:
    def __init__(self, n):
        self.n = n
    def __iter__(self):
        return self
    def __next__(self):
        if self.n <= 0:
            raise StopIteration
        self.n -= 1
        return self.n + 1

print(list(Countdown(5)))
it = iter([1, 2, 3])
print(next(it), next(it), next(it), next(it, "end"))
print(list(map(str, range(3))), list(filter(None, [0, 1, "", "a"])), list(enumerate("ab", 1)))
print(any(x > 3 for x in range(5)), all([]), sorted(zip("cab", [3, 1, 2])))
print(list(iter(lambda c=iter(range(10)): next(c), 5)))
