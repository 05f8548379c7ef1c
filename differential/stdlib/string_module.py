# MOLT_META: stdout=relaxed
import string, textwrap
print(string.ascii_lowercase[:5], string.digits, string.punctuation[:5])
t = string.Template("$who likes $what")
print(t.substitute(who="tim", what="kung pao"), t.safe_substitute(who="x"))
print(textwrap.wrap("The quick brown fox jumps over the lazy dog " * 2, 20))
print(textwrap.dedent("    a\n      b\n"), end="")
print(textwrap.shorten("Hello  world, this is long", width=15), "abc".translate(str.maketrans("ab", "xy")))
