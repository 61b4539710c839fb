"""shoplog FILE: print each customer's total in EUR."""
import argparse
import sys

from .summary import daily_buckets, distinct_customers, parse, render, totals


def demo_lines(n, customers=2000):
    codes = ("EUR", "USD", "GBP", "CHF")
    return ["%d,c%04d,%s,%d.%02d" % (i % 60, (i * 7919) % customers, codes[i % 4], i % 500, i % 100) for i in range(n)]


def run(lines):
    orders = parse(lines)
    names = distinct_customers(orders)
    buckets = daily_buckets(orders)
    return names, len(buckets), render(totals(orders))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="shoplog", description=__doc__)
    parser.add_argument("file", nargs="?")
    parser.add_argument("--demo", type=int, default=0, help="use N generated orders")
    args = parser.parse_args(argv)
    lines = demo_lines(args.demo) if args.demo else open(args.file, encoding="utf-8").read().splitlines()
    print(run(lines)[2], end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
