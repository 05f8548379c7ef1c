class Vec:
    __slots__ = ("x", "y")
    def __init__(self, x, y):
        self.x, self.y = x, y
    def __add__(self, o):
        return Vec(self.x + o.x, self.y + o.y)
    def __mul__(self, k):
        return Vec(self.x * k, self.y * k)
    __rmul__ = __mul__
    def __eq__(self, o):
        return (self.x, self.y) == (o.x, o.y)
    def __repr__(self):
        return f"Vec({self.x}, {self.y})"
    def __iter__(self):
        yield self.x
        yield self.y

v = Vec(1, 2) + Vec(3, 4)
print(v, 2 * v, v * 3, v == Vec(4, 6), list(v))

class Account:
    rate = 0.05
    def __init__(self, owner):
        self.owner, self._balance = owner, 0
    @property
    def balance(self):
        return self._balance
    @balance.setter
    def balance(self, v):
        if v < 0:
            raise ValueError("negative")
        self._balance = v
    @classmethod
    def named(cls, n):
        return cls(n.title())
    @staticmethod
    def fee(x):
        return round(x * 0.01, 2)

a = Account.named("ada")
a.balance = 120
print(a.owner, a.balance, Account.fee(250), a.rate)
try:
    a.balance = -1
except ValueError as e:
    print("refused:", e)
