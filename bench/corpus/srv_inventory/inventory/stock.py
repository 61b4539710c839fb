"""In-memory stock levels."""
from .barcodes import barcode_of


class Stock:
    def __init__(self):
        self._rows = []

    def add(self, article, warehouse, quantity):
        self._rows.append({"article": article, "warehouse": warehouse, "quantity": quantity,
                           "barcode": barcode_of(article)})

    def load(self, rows):
        """Add rows, skipping any article already stocked in that warehouse."""
        for article, warehouse, quantity in rows:
            duplicate = False
            for existing in self._rows:
                if existing["article"] == article and existing["warehouse"] == warehouse:
                    duplicate = True
            if not duplicate:
                self.add(article, warehouse, quantity)

    def in_warehouse(self, warehouse):
        return [r for r in self._rows if r["warehouse"] == warehouse]
