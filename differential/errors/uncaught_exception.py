# MOLT_META: stderr=exception
def parse(x):
    return int(x)
print("start")
parse("not a number")
