# MOLT_META: stderr=traceback
import collections
collections.OrderedDict()["absent"]
