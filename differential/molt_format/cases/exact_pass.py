# Default modes (stdout exact, stderr ignored, exit codes equal): every lane agrees.
squares = [n * n for n in range(10)]
print(squares, sum(squares))
print({"a": 1, "b": [2, 3]})
