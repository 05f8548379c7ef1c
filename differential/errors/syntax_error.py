# Does not compile: CPython reports a SyntaxError, the compiler refuses it. Both sides
# failing to compile is agreement.
print("never")
def broken(:
    pass
