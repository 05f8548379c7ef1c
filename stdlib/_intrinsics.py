"""Host stand-in for the runtime's intrinsic table (the compiled runtime provides it)."""


def require_intrinsic(name: str):
    raise NotImplementedError(f"intrinsic {name} is provided by the runtime")
