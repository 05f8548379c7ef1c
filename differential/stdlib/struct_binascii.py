import struct, binascii, base64, hashlib, zlib
packed = struct.pack("<IhQ?", 7, -3, 2 ** 40, True)
print(packed.hex(), struct.unpack("<IhQ?", packed), struct.calcsize("<IhQ?"))
print(binascii.crc32(b"moltb"), base64.b64encode(b"differential"), base64.b32decode(b"MZXW6==="))
print(hashlib.sha256(b"abc").hexdigest()[:16], hashlib.md5(b"").hexdigest())
z = zlib.compress(b"a" * 1000)
print(len(zlib.decompress(z)), zlib.adler32(b"wiki"))
