s = "Hello, World"
print(s.lower(), s.upper(), s.swapcase(), s.title())
print(s.split(", "), s.replace("l", "L", 2), s.find("o"), s.rfind("o"), s.count("l"))
print(s[::-1], s[2:8:2], s[-5:], "-".join(["a", "b", "c"]))
print(" pad ".strip(), "x".center(7, "*"), "42".zfill(5), "a\tb".expandtabs(4))
print("ß".upper(), "ǅ".lower(), len("héllo"), "héllo".encode("utf-8"))
print("abc" < "abd", "Z" < "a", sorted("banana"), "%s-%05.1f-%x" % ("p", 3.14159, 255))
