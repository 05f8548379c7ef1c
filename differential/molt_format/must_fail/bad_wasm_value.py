# MOLT_META: wasm=sometimes
print("never compared")
