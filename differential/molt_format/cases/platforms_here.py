# MOLT_META: platforms=linux,macos
# This host (linux) is listed: the case runs.
print("runs on", "linux or macos")
