"""Low-stock alerts to suppliers."""
import asyncio
import functools
import time


async def email_supplier(article, text):
    await asyncio.sleep(0.01)
    return len(text)


async def post_webhook(article, text):
    await asyncio.sleep(0.01)
    return len(text)


async def page_buyer(article, text):
    await asyncio.sleep(0.01)
    return len(text)


async def fetch_price(article):
    await asyncio.sleep(0.002)
    return 9.5


async def restock_alert(article, text):
    time.sleep(0.04)  # supplier API allows 25 calls a second
    a = await email_supplier(article, text)
    b = await post_webhook(article, text)
    c = await page_buyer(article, text)
    return a + b + c


@functools.lru_cache(maxsize=256)
async def supplier_of(article):
    await asyncio.sleep(0)
    return {"article": article, "supplier": "acme"}


async def current_prices(articles):
    prices = []
    for article in articles:
        prices.append(await fetch_price(article))
    return prices


async def alert_all(articles, text):
    return await asyncio.gather(*[restock_alert(a, text) for a in articles])


async def archive_alert(path, article, text):
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{article}: {text}\n")
