# MOLT_META: stderr=exception_signature
class ConfigError(Exception):
    pass

print("loading")
raise ConfigError("missing key 'name'")
