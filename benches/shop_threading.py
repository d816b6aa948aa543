#!/usr/bin/env python3
"""The snack shop protocol on Python's socketserver, one thread per customer.

This is the server a tutorial reader would write first, kept as a peer for
the Rust shop in benchmarks (`loadgen compare --python`):

* the wire protocol is GBK text; every server line ends in "\\r\\n";
* on connect the server sends one greeting line listing the goods;
* the customer sends one message per line ("\\n"); each gets one reply line;
* buying an item replies "购买成功,余额 -N" where N is the customer's running
  total; stock is unlimited (like benches/unlimited.toml);
* "拜拜" replies "欢迎下次光临" and the server closes the connection.

Prices are kept in integer fen (1 yuan = 100 fen) so totals never suffer from
floating point rounding.

Usage: python3 benches/shop_threading.py --port 0
The first stdout line is "listening on 127.0.0.1:PORT" with the real port.
"""

import argparse
import socketserver

ENCODING = "gbk"

# The shipped catalog: (name, price in fen), in greeting order.
GOODS = [("瓜子", 450), ("西瓜", 200), ("矿泉水", 250)]
PRICES = dict(GOODS)

GOODBYE = "拜拜"


def yuan(fen):
    """Format fen as yuan without trailing zeros: 450 -> '4.5', 200 -> '2'."""
    whole, cents = divmod(fen, 100)
    if cents == 0:
        return str(whole)
    return f"{whole}.{cents:02d}".rstrip("0")


GREETING = (
    "目前商店还有:"
    + ",".join(f"{name}({yuan(price)})" for name, price in GOODS)
    + "。请问您需要什么?"
)


class CustomerHandler(socketserver.StreamRequestHandler):
    """Serves one customer connection, in its own thread."""

    # Replies are small and latency matters: send them right away.
    disable_nagle_algorithm = True

    def send_line(self, text):
        self.wfile.write((text + "\r\n").encode(ENCODING))

    def handle(self):
        self.send_line(GREETING)
        total_fen = 0
        while True:
            raw = self.rfile.readline()
            if not raw:
                return  # the customer hung up
            message = raw.rstrip(b"\r\n").decode(ENCODING, errors="replace").strip()
            if message == GOODBYE:
                self.send_line("欢迎下次光临")
                return  # socketserver closes the connection
            price = PRICES.get(message)
            if price is None:
                self.send_line("抱歉,您购买的商品目前没有,请选购其他的。")
                continue
            total_fen += price
            self.send_line(f"购买成功,余额 -{yuan(total_fen)}")


class ShopServer(socketserver.ThreadingTCPServer):
    # Do not wait for customer threads on shutdown.
    daemon_threads = True
    # Allow restarting on the same port right away.
    allow_reuse_address = True
    # socketserver's default listen backlog is 5; the Rust servers get 128 or
    # more from std, so use the same to compare threads, not backlogs.
    request_queue_size = 128


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9999, help="0 picks a free port")
    args = parser.parse_args()
    with ShopServer(("127.0.0.1", args.port), CustomerHandler) as server:
        host, port = server.server_address
        # Flush: whoever started us waits for this line on a pipe.
        print(f"listening on {host}:{port}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
