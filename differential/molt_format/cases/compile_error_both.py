# Neither side compiles: CPython's SyntaxError and mc's refusal agree.
# mc: unsupported
def broken(:
    pass
