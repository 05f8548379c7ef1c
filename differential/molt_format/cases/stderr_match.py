# MOLT_META: stderr=match
import sys
sys.stderr.write("line one\nline two\n")
