import asyncio

async def worker(name, delay, out):
    await asyncio.sleep(delay)
    out.append(name)
    return name.upper()

async def main():
    out = []
    res = await asyncio.gather(worker("b", 0.02, out), worker("a", 0.01, out), worker("c", 0.0, out))
    print(res, out)
    async def agen():
        for i in range(3):
            yield i
    print([i async for i in agen()])

asyncio.run(main())
