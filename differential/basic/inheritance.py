class A:
    def who(self):
        return "A"
    def chain(self):
        return ["A"]

class B(A):
    def who(self):
        return "B+" + super().who()
    def chain(self):
        return ["B"] + super().chain()

class C(A):
    def chain(self):
        return ["C"] + super().chain()

class D(B, C):
    def chain(self):
        return ["D"] + super().chain()

print([k.__name__ for k in D.__mro__])
print(D().who(), D().chain(), isinstance(D(), A), issubclass(D, C))

class Base:
    registry = []
    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        Base.registry.append(cls.__name__)

class One(Base): pass
class Two(Base): pass
print(Base.registry)
