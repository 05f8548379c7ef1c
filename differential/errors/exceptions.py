class AppError(Exception):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code

def risky(n):
    if n == 0:
        raise AppError(42, "zero")
    if n < 0:
        raise ValueError(f"negative: {n}")
    return 10 / n

for n in (2, 0, -1):
    try:
        print(risky(n))
    except AppError as e:
        print("app", e.code, e, e.args)
    except (ValueError, TypeError) as e:
        print(type(e).__name__, e)
    else:
        print("no error")
    finally:
        print("finally", n)
try:
    try:
        {}["k"]
    except KeyError as e:
        raise RuntimeError("wrapped") from e
except RuntimeError as e:
    print(repr(e), repr(e.__cause__), e.__context__ is e.__cause__)
def order():
    try:
        return "try"
    finally:
        print("finally runs first")
print(order())
