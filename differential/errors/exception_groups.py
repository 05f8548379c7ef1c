try:
    raise ExceptionGroup("many", [ValueError("v"), TypeError("t"), ValueError("w")])
except* ValueError as eg:
    print("values", [str(e) for e in eg.exceptions])
except* TypeError as eg:
    print("types", len(eg.exceptions))
e = ValueError("base")
e.add_note("a note")
print(e.__notes__)
