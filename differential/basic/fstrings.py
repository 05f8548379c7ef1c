name, n, x = "moltb", 42, 3.14159
print(f"{name!r:>10}|{n:08b}|{x:.2%}|{n:,}|{x:+.3e}")
print(f"{'nested ' + name.upper()}", f"{n=}", f"{x=:.1f}")
w = 6
print(f"{n:>{w}}", f"{{literal}}", f"{[i * i for i in range(4)]}")
print(format(1234567.891, ",.2f"), format(255, "#x"), format("s", "^5"))
