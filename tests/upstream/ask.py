#!/usr/bin/python3
"""ask.py SERVER PORT NAME TYPE udp|tcp edns|noedns TIMEOUT

One DNS question from wherever it runs (the tests run it inside a network
namespace with `ip netns exec`); prints the reply's bytes in hex, or
`timeout`."""
import socket
import struct
import sys
import time

import dns.message


def main():
    server, port, name, rdtype, proto, edns, timeout = sys.argv[1:8]
    port, timeout = int(port), float(timeout)
    q = dns.message.make_query(name, rdtype,
                               use_edns=0 if edns == "edns" else False)
    wire = q.to_wire()
    deadline = time.monotonic() + timeout
    try:
        if proto == "tcp":
            s = socket.create_connection((server, port), timeout=timeout)
            s.sendall(struct.pack("!H", len(wire)) + wire)
            buf = b""
            while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = s.recv(65535)
                if not chunk:
                    raise EOFError
                buf += chunk
            data = buf[2:2 + struct.unpack("!H", buf[:2])[0]]
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.connect((server, port))
            s.send(wire)
            while True:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                data = s.recv(65535)
                if data[:2] == wire[:2]:
                    break
    except (OSError, EOFError):
        print("timeout")
        return
    print(data.hex())


if __name__ == "__main__":
    main()
