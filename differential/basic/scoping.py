x = "global"
def outer():
    x = "outer"
    def inner():
        return x
    return inner()
print(outer(), x)

class K:
    y = 5
    vals = [y * 2 for _ in range(2)] if False else [10, 10]
    def m(self):
        return K.y
print(K().m(), K.vals)
try:
    def bad():
        print(z)
        z = 1
    bad()
except UnboundLocalError as e:
    print("UnboundLocalError")
print(sorted(k for k in locals() if not k.startswith("__"))[:4])
