"""The Python lane's example: compiled by Cython to C, linked against libpython."""


def greet(name: str) -> str:
    return f"Hello, {name}!"


def main() -> None:
    print(greet("moltb"))
    squares = [n * n for n in range(5)]
    print("squares:", squares, "sum:", sum(squares))


if __name__ == "__main__":
    main()
