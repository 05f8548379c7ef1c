from dataclasses import dataclass, field, asdict
from enum import Enum, auto

class Color(Enum):
    RED = auto()
    GREEN = auto()

@dataclass(order=True, frozen=True)
class Item:
    price: float
    name: str = field(compare=False)
    tags: tuple = ()

items = sorted([Item(3.5, "tea"), Item(1.25, "bun", ("hot",)), Item(2.0, "jam")])
print(items[0], [i.name for i in items], asdict(items[0]))
print(Color.RED, Color.GREEN.value, Color["RED"] is Color.RED, list(Color))
try:
    items[0].price = 9
except Exception as e:
    print(type(e).__name__)
