"""Customer ranking for the monthly report."""


def top_customers(orders, n=10):
    """Customers by number of orders, each counted once per order."""
    customers = []
    for _order_id, customer in orders:
        if customer not in customers:
            customers.append(customer)
    counts = {c: 0 for c in customers}
    for _order_id, customer in orders:
        counts[customer] += 1
    return sorted(customers, key=lambda c: -counts[c])[:n]
