# MOLT_META: skip=needs-a-network
raise SystemExit("must not run")
