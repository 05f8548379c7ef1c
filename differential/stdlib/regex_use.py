import re
text = "Order 66 shipped 2026-11-22; order 7 due 2027-01-05."
print(re.findall(r"\d{4}-\d{2}-\d{2}", text))
print(re.sub(r"(?i)order (\d+)", lambda m: f"#{int(m.group(1)):03d}", text))
m = re.search(r"(?P<y>\d{4})-(?P<m>\d\d)", text)
print(m.group("y"), m.groupdict(), m.span())
print(re.split(r"[;,.]\s*", "a; b,c. d"), bool(re.fullmatch(r"[a-z]+", "abc")))
print([m.start() for m in re.finditer("o", "foo boo")])
