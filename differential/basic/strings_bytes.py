b = bytes(range(65, 75))
print(b, b.hex(), b[2:5], list(b[:3]), b.decode())
ba = bytearray(b"hello")
ba[0] = ord("J"); ba += b"!"
print(ba, bytes(ba).upper(), b"a,b,,c".split(b","), b"%d-%s" % (5, b"x"))
print("naïve ☃".encode("utf-8"), "naïve".encode("latin-1"), b"caf\xc3\xa9".decode())
print(int.from_bytes(b"\x01\x00", "little"), (1024).to_bytes(4, "big"), memoryview(b"abc")[1])
