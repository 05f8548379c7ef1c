# MOLT_META: platforms=windows
# Not this host's platform: SKIPPED with the reason.
raise SystemExit("must not run here")
