#!/usr/bin/python3
"""Ask DNS questions from inside many network namespaces in one process.

Used by tests/test_netns.py (run as root).  For each namespace it enters the
namespace with setns(2), opens a UDP socket there (a socket belongs to the
namespace it was created in), returns to its own namespace, and then asks
every question of that namespace through that socket, exactly as a process
inside the namespace would (server 127.0.0.11@53 unless told otherwise),
up to "window" questions in flight at a time, each with its own ID.

It asserts nothing: it reports what came back, and the test judges.

Input (JSON on stdin):
  {"server": "127.0.0.11", "port": 53, "timeout": 2.0, "tries": 3,
   "window": 32,
   "namespaces": [{"netns": "/run/netns/X",
                   "questions": [["db", "A"], ["x.db", "AAAA"], ...]}, ...]}
Output (JSON on stdout), in the same order:
  [{"netns": "/run/netns/X", "error": null,
    "answers": [{"rcode": "NOERROR", "answer": ["10.0.0.1"], "aa": true}
                or {"rcode": null} when no reply came within the tries]}, ...]
"error" is set (and "answers" empty) when the namespace could not be entered.
"""

import ctypes
import json
import os
import socket
import sys
import time

import dns.flags
import dns.message
import dns.rcode

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def socket_in(path, home_fd):
    """A UDP socket created inside the namespace at path."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(fd)
        try:
            return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        finally:
            setns(home_fd)
    finally:
        os.close(fd)


def result_of(data):
    if len(data) >= 12 and data[6:8] == b"\0\0" and data[10:12] == b"\0\0":
        # no answer records and no OPT record: the header says it all
        return {"rcode": dns.rcode.to_text(data[3] & 0xF),
                "aa": bool(data[2] & 0x04), "answer": []}
    r = dns.message.from_wire(data)
    return {"rcode": dns.rcode.to_text(r.rcode()),
            "aa": bool(r.flags & dns.flags.AA),
            "answer": sorted(rd.to_text() for rrset in r.answer
                             for rd in rrset)}


def ask_all(sock, server, questions, timeout, tries, window):
    """Asks every question through sock, up to `window` at a time, each
    with its own ID; a question without a reply after `timeout` is asked
    again (with a new ID), up to `tries` times.  Returns the results in
    order; {"rcode": None} for a question never answered."""
    results = [None] * len(questions)
    wires = [dns.message.make_query(name, rdtype, id=0).to_wire()
             for name, rdtype in questions]
    left_tries = [tries] * len(questions)
    inflight = {}            # id -> (index, deadline)
    todo = list(range(len(questions)))
    todo.reverse()
    next_id = 0
    while todo or inflight:
        now = time.monotonic()
        while todo and len(inflight) < window:
            i = todo.pop()
            name, rdtype = questions[i]
            qid = next_id
            next_id = (next_id + 1) & 0xFFFF
            left_tries[i] -= 1
            sock.sendto(qid.to_bytes(2, "big") + wires[i][2:], server)
            inflight[qid] = (i, now + timeout)
        first = min(d for _i, d in inflight.values())
        sock.settimeout(max(first - time.monotonic(), 0.001))
        try:
            data, _src = sock.recvfrom(65535)
        except socket.timeout:
            data = None
        except ConnectionRefusedError:
            # ICMP port unreachable: nothing listens (yet); the questions
            # in flight time out and are asked again
            data = None
        if data is not None and len(data) >= 2:
            qid = int.from_bytes(data[:2], "big")
            if qid in inflight:
                i, _d = inflight.pop(qid)
                try:
                    results[i] = result_of(data)
                except Exception as e:  # a malformed reply is a result too
                    results[i] = {"rcode": "MALFORMED", "error": str(e),
                                  "answer": []}
        now = time.monotonic()
        for qid, (i, d) in list(inflight.items()):
            if d <= now:
                del inflight[qid]
                if left_tries[i] > 0:
                    todo.append(i)
                else:
                    results[i] = {"rcode": None, "answer": []}
    return results


def main():
    spec = json.load(sys.stdin)
    server = (spec.get("server", "127.0.0.11"), int(spec.get("port", 53)))
    timeout = float(spec.get("timeout", 2.0))
    tries = int(spec.get("tries", 3))
    window = int(spec.get("window", 32))
    home = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    out = []
    for ns in spec["namespaces"]:
        entry = {"netns": ns["netns"], "error": None, "answers": []}
        try:
            sock = socket_in(ns["netns"], home)
        except OSError as e:
            entry["error"] = "cannot enter %s: %s" % (ns["netns"], e)
            out.append(entry)
            continue
        with sock:
            entry["answers"] = ask_all(sock, server, ns["questions"],
                                       timeout, tries, window)
        out.append(entry)
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
