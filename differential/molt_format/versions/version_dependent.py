# Its output differs from one CPython to the next: each lane is compared with the
# reference run of the version it follows.
import sys
print("python %d.%d" % sys.version_info[:2])
