#!/usr/bin/env python3
"""Checks the output of examples/cpp_orderbook against values computed here, independently.

  check_orderbook.py flashstrike LAST_ID OUTPUT   a log of the FlashStrike samples' formula
                                                   (walrec gen --format flashstrike), ids 1..LAST_ID
  check_orderbook.py native ORDERS SEED OUTPUT     a log written by `cpp_orderbook generate`

The expected book is rebuilt in Python from the event formula (flashstrike) or from a second
implementation of the order stream and of the matching rules in examples/cpp_orderbook/
order_book.hpp (native), and every line of the printed book must match exactly.
"""
import sys

MASK = (1 << 64) - 1
BID, ASK = 0, 1
NEW, MOD_PRICE, MOD_QTY, CANCEL = 0, 1, 2, 3
LIMIT, MARKET = 0, 1


class Book:
    def __init__(self):
        self.side = {BID: {}, ASK: {}}  # price -> list of [id, qty] (oldest first)
        self.live = {}  # id -> (side, price)
        self.s = dict(applied=0, last=0, limit=0, market=0, mprice=0, mqty=0, cancels=0,
                      unknown=0, dup=0, invalid=0, trades=0, volume=0, unfilled=0)

    def best_prices(self, side):
        return sorted(self.side[side], reverse=(side == BID))

    def match(self, side, qty, crosses):
        book = self.side[side]
        while qty > 0 and book:
            price = self.best_prices(side)[0]
            if not crosses(price):
                break
            queue = book[price]
            maker = queue[0]
            fill = min(qty, maker[1])
            maker[1] -= fill
            qty -= fill
            self.s["trades"] += 1
            self.s["volume"] += fill
            if maker[1] == 0:
                del self.live[maker[0]]
                queue.pop(0)
                if not queue:
                    del book[price]
        return qty

    def rest(self, side, price, oid, qty):
        self.side[side].setdefault(price, []).append([oid, qty])
        self.live[oid] = (side, price)

    def take(self, oid):
        side, price = self.live.pop(oid)
        queue = self.side[side][price]
        idx = next(k for k, o in enumerate(queue) if o[0] == oid)
        order = queue.pop(idx)
        if not queue:
            del self.side[side][price]
        return side, price, order[1]

    def apply(self, e):
        s = self.s
        s["applied"] += 1
        s["last"] = e["id"]
        t, oid = e["type"], e["order_id"]
        if t == NEW:
            market = e["otype"] == MARKET
            if e["qty"] <= 0 or (not market and e["price"] <= 0):
                s["invalid"] += 1
                return
            if oid in self.live:
                s["dup"] += 1
                return
            s["market" if market else "limit"] += 1
            p = e["price"]
            if e["side"] == BID:
                left = self.match(ASK, e["qty"], lambda a: market or a <= p)
            else:
                left = self.match(BID, e["qty"], lambda b: market or b >= p)
            if left == 0:
                return
            if market:
                s["unfilled"] += left
                return
            self.rest(e["side"], p, oid, left)
            return
        if oid not in self.live:
            s["unknown"] += 1
            return
        if t == MOD_PRICE:
            if e["price"] <= 0:
                s["invalid"] += 1
                return
            s["mprice"] += 1
            side, _, qty = self.take(oid)
            p = e["price"]
            if side == BID:
                left = self.match(ASK, qty, lambda a: a <= p)
            else:
                left = self.match(BID, qty, lambda b: b >= p)
            if left > 0:
                self.rest(side, p, oid, left)
        elif t == MOD_QTY:
            if e["qty"] <= 0:
                s["invalid"] += 1
                return
            s["mqty"] += 1
            side, price = self.live[oid]
            order = next(o for o in self.side[side][price] if o[0] == oid)
            if e["qty"] <= order[1]:
                order[1] = e["qty"]
                return
            self.take(oid)
            self.rest(side, price, oid, e["qty"])
        else:
            s["cancels"] += 1
            self.take(oid)

    def digest(self):
        h = 0xCBF29CE484222325

        def mix(v):
            nonlocal h
            for i in range(8):
                h ^= (v >> (8 * i)) & 0xFF
                h = (h * 0x100000001B3) & MASK

        for tag, side in ((0, BID), (1, ASK)):
            for price in self.best_prices(side):
                for oid, qty in self.side[side][price]:
                    mix(tag)
                    mix(price & MASK)
                    mix(oid)
                    mix(qty & MASK)
        return "%016x" % h

    def lines(self, depth=5):
        s = self.s

        def best(side):
            prices = self.best_prices(side)
            if not prices:
                return "none"
            q = self.side[side][prices[0]]
            n = len(q)
            return "%d x %d (%d %s)" % (prices[0], sum(o[1] for o in q), n, "order" if n == 1 else "orders")

        def top(side):
            prices = self.best_prices(side)[:depth]
            if not prices:
                return ["    (empty)"]
            return ["    %d %d %d" % (p, sum(o[1] for o in self.side[side][p]), len(self.side[side][p])) for p in prices]

        rejected = s["unknown"] + s["dup"] + s["invalid"]
        return [
            "  events applied      : %d" % s["applied"],
            "  last applied id     : %d" % s["last"],
            "  new orders          : %d (limit %d, market %d)" % (s["limit"] + s["market"], s["limit"], s["market"]),
            "  modifies            : price %d, quantity %d" % (s["mprice"], s["mqty"]),
            "  cancels             : %d" % s["cancels"],
            "  rejected            : %d (unknown order %d, duplicate id %d, invalid %d)" % (rejected, s["unknown"], s["dup"], s["invalid"]),
            "  trades              : %d, volume %d" % (s["trades"], s["volume"]),
            "  market unfilled     : %d" % s["unfilled"],
            "  resting orders      : %d" % len(self.live),
            "  bid levels          : %d" % len(self.side[BID]),
            "  ask levels          : %d" % len(self.side[ASK]),
            "  best bid            : %s" % best(BID),
            "  best ask            : %s" % best(ASK),
            "  book digest         : %s" % self.digest(),
            "  top bids (price qty orders):",
        ] + top(BID) + ["  top asks (price qty orders):"] + top(ASK)


def flashstrike_events(last):
    # tests/data/flashstrike/README.md: the samples' formula.
    for i in range(1, last + 1):
        yield dict(id=i, price=i * 7, qty=i % 100 + 1, order_id=i & 0xFFFFFFFF, type=i % 4, otype=i % 2, side=i % 2)


def native_events(orders, seed):
    # The order stream of cpp_orderbook generate (examples/cpp_orderbook/main.cpp, Stream).
    x = seed
    next_id = 1
    issued = []

    def draw(bound):
        nonlocal x
        x = (x * 6364136223846793005 + 1442695040888963407) & MASK
        return (x >> 33) % bound

    for i in range(1, orders + 1):
        draw(100)  # user id
        side = BID if draw(2) == 0 else ASK
        kind = draw(100)

        def price(sd):
            off = draw(16)
            return 9990 + off if sd == BID else 10010 - off

        e = dict(id=i, price=0, qty=0, side=side, otype=LIMIT)
        if kind < 60 or not issued:
            e["type"] = NEW
            e["otype"] = LIMIT if (kind < 54 or not issued) else MARKET
            e["order_id"] = next_id
            next_id += 1
            e["price"] = price(side) if e["otype"] == LIMIT else 0
            e["qty"] = 1 + draw(100)
            issued.append(e["order_id"])
        else:
            window = min(len(issued), 256)
            e["order_id"] = issued[len(issued) - 1 - draw(window)]
            if kind < 72:
                e["type"] = MOD_PRICE
                e["price"] = price(side)
            elif kind < 80:
                e["type"] = MOD_QTY
                e["qty"] = 1 + draw(100)
            else:
                e["type"] = CANCEL
        yield e


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "flashstrike":
        events, out = flashstrike_events(int(sys.argv[2])), sys.argv[3]
    elif len(sys.argv) == 5 and sys.argv[1] == "native":
        events, out = native_events(int(sys.argv[2]), int(sys.argv[3])), sys.argv[4]
    else:
        sys.exit(__doc__)
    book = Book()
    for e in events:
        book.apply(e)
    want = book.lines()
    got = open(out).read().splitlines()
    # The book section: the lines after the title, as many as expected.
    got = got[1:1 + len(want)]
    bad = [(w, g) for w, g in zip(want, got) if w != g]
    if len(got) != len(want) or bad:
        for w, g in bad:
            print("expected: %r\n     got: %r" % (w, g), file=sys.stderr)
        sys.exit("check_orderbook: %s does not show the expected book" % out)
    print("check_orderbook: %s: the book matches the independent model (%s)" % (out, want[13].strip()))


if __name__ == "__main__":
    main()
