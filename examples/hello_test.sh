#!/bin/sh
# The example binary greets moltb. Its path depends on the configuration, so it is
# found through the exec root rather than written here.
set -eu
exe=$(ls moltb-out/*/examples/hello* | head -n 1)
out=$("$exe")
if [ "$out" != "Hello, moltb!" ]; then
    echo "unexpected greeting: '$out'" >&2
    exit 1
fi
echo "ok: $out"
