# MOLT_META: stderr=exception
# Tracebacks name other files; the last `Type: message` line is the same.
def parse(text):
    return int(text)

parse("not a number")
