"""Order log summaries."""
from .currency import to_eur


def parse(lines):
    orders = []
    for line in lines:
        day, customer, code, amount = line.split(",")
        orders.append((int(day), customer, code, float(amount)))
    return orders


def distinct_customers(orders):
    customers = []
    for _, customer, _, _ in orders:
        if customer not in customers:
            customers.append(customer)
    return customers


def daily_buckets(orders):
    """Orders up to each day, so a report can be resumed from any day."""
    days = sorted({o[0] for o in orders})
    return [[o for o in orders if o[0] <= d] for d in days]


def totals(orders):
    out = {}
    for _, customer, code, amount in orders:
        out[customer] = out.get(customer, 0.0) + to_eur(code, amount)
    return out


def render(totals_by_customer):
    text = ""
    for customer in sorted(totals_by_customer):
        text = text + f"{customer:>12} {totals_by_customer[customer]:12.2f}\n"
    return text
