"""Large tables (10,000 containers) and zones/example-large.links.

The generated table has 10,000 containers and 50,000 links, addresses in
127.60.0.0/16; it is deterministic (fixed seed).
"""

import os
import random
import time

import dns.flags
import pytest

from conftest import (REPO, addresses, module_daemon, rcode_text, records,
                      reverse_name, run_linkdnsd, status_kib)

N_CONTAINERS = 10_000
LINKS_EACH = 5                     # 50,000 links
SPOT_CHECKS = 200


def addr(i):
    return "127.60.%d.%d" % (i // 250, i % 250 + 1)


def generate(seed=10000):
    """(table text, links) where links[i] = [(target, alias or None)]."""
    rng = random.Random(seed)
    lines = ["# generated: %d containers, %d links"
             % (N_CONTAINERS, N_CONTAINERS * LINKS_EACH)]
    for i in range(N_CONTAINERS):
        lines.append("add c%05d --addr %s --expose %d/tcp"
                     % (i, addr(i), 1000 + i % 500))
    links = []
    for i in range(N_CONTAINERS):
        targets = rng.sample([t for t in rng.sample(range(N_CONTAINERS),
                                                    LINKS_EACH + 1)
                              if t != i], LINKS_EACH)
        aliases = rng.sample(range(100_000), LINKS_EACH)
        mine = []
        for k, (t, a) in enumerate(zip(targets, aliases)):
            if k == 0:
                lines.append("link c%05d c%05d" % (i, t))
                mine.append((t, None))
            else:
                lines.append("link c%05d c%05d:s%05d" % (i, t, a))
                mine.append((t, "s%05d" % a))
        links.append(mine)
    return "\n".join(lines) + "\n", links


TABLE, LINKS = generate()
assert sum(len(v) for v in LINKS) == 50_000


@pytest.fixture(scope="module")
def daemon():
    yield from module_daemon(TABLE, start_deadline=60.0)


def test_large_check_config(tmp_path):
    path = tmp_path / "links"
    path.write_text(TABLE)
    t0 = time.monotonic()
    p = run_linkdnsd(["--check-config", "--state", str(path)], timeout=120)
    elapsed = time.monotonic() - t0
    assert p.returncode == 0, p.stderr[-2000:]
    print("\n--check-config of %d containers / %d links: %.2f s"
          % (N_CONTAINERS, N_CONTAINERS * LINKS_EACH, elapsed))


def test_large_load_reported(daemon):
    """Not a timed test: prints load time and RSS (pytest -s shows them)."""
    rss = status_kib(daemon.proc.pid, "VmRSS")
    print("\nlinkdnsd ready after %.2f s, RSS %d KiB"
          % (daemon.ready_seconds, rss))
    assert rss > 0


def test_large_spot_checks(daemon):
    rng = random.Random(4242)
    wrong = []
    for _ in range(SPOT_CHECKS):
        i = rng.randrange(N_CONTAINERS)
        t, alias = rng.choice(LINKS[i])
        name = alias or "c%05d" % t
        suffix = rng.choice(["", ".link.internal"])
        r = daemon.query(name + suffix, "A", source=addr(i))
        if (rcode_text(r) != "NOERROR" or not r.flags & dns.flags.AA
                or addresses(r) != [addr(t)]):
            wrong.append("c%05d asks %s: %s" % (i, name + suffix, r))
    assert not wrong, "%d of %d wrong; first:\n%s" % (len(wrong), SPOT_CHECKS,
                                                      wrong[0])


def test_large_srv_and_ptr(daemon):
    rng = random.Random(99)
    for _ in range(20):
        i = rng.randrange(N_CONTAINERS)
        t, alias = rng.choice(LINKS[i])
        name = alias or "c%05d" % t
        port = 1000 + t % 500
        r = daemon.query("_%d._tcp.%s" % (port, name), "SRV", source=addr(i))
        srv = records(r.answer, "SRV")
        assert [(s.port, s.target.to_text().lower()) for s in srv] == \
            [(port, name + ".link.internal.")], r
        assert addresses(r, "A", "additional") == [addr(t)], r
        # own address reverses to the own name
        r = daemon.query(reverse_name(addr(i)), "PTR", source=addr(i))
        assert [p.target.to_text() for p in records(r.answer, "PTR")] == \
            ["c%05d.link.internal." % i], r


def test_large_must_not_resolve(daemon):
    rng = random.Random(777)
    checked = 0
    while checked < 30:
        i = rng.randrange(N_CONTAINERS)
        linked = {t for t, _ in LINKS[i]} | {i}
        aliases = {a for _, a in LINKS[i] if a}
        other = rng.randrange(N_CONTAINERS)
        if other in linked:
            continue
        # another container's name, and an alias some other view has
        foreign_alias = rng.choice([a for _, a in LINKS[other] if a])
        if foreign_alias in aliases:
            continue
        for name in ("c%05d" % other, foreign_alias):
            r = daemon.query(name, "A", source=addr(i))
            assert rcode_text(r) == "REFUSED" and not r.answer, (i, name, r)
            r = daemon.query(name + ".link.internal", "A", source=addr(i))
            assert rcode_text(r) == "NXDOMAIN" and not r.answer, (i, name, r)
        checked += 1
    r = daemon.query("c00001", "A", source="127.60.250.250")
    assert rcode_text(r) == "REFUSED", r


# --- zones/example-large.links -----------------------------------------------------
EXAMPLE_LARGE = os.path.join(REPO, "zones", "example-large.links")


def test_example_large_is_readable():
    text = open(EXAMPLE_LARGE).read()
    adds = [ln for ln in text.splitlines() if ln.startswith("add ")]
    links = [ln for ln in text.splitlines() if ln.startswith("link ")]
    assert 18 <= len(adds) <= 25 and len(links) >= 20
    assert text.startswith("#"), "the example explains itself"


def test_example_large_check_config(tmp_path):
    path = tmp_path / "links"
    path.write_bytes(open(EXAMPLE_LARGE, "rb").read())
    p = run_linkdnsd(["--check-config", "--state", str(path)])
    assert p.returncode == 0, p.stderr


@pytest.fixture(scope="module")
def shop():
    yield from module_daemon(EXAMPLE_LARGE)


LB = "127.0.20.2"
API = "127.0.20.20"
WORKER_1 = "127.0.20.61"
GRAFANA = "127.0.20.91"
BACKUP = "127.0.20.120"


def test_shop_replicas(shop):
    r = shop.query("web", "A", source=LB)
    assert rcode_text(r) == "NOERROR" and r.flags & dns.flags.AA, r
    assert addresses(r) == ["127.0.20.11", "127.0.20.12"], r
    r = shop.query("web.link.internal", "AAAA", source=LB)
    assert addresses(r, "AAAA") == ["fd00:20::11", "fd00:20::12"], r
    r = shop.query("_8000._tcp.web", "SRV", source=LB)
    assert [(s.port, s.target.to_text()) for s in records(r.answer, "SRV")] \
        == [(8000, "web.link.internal.")], r


def test_shop_api(shop):
    assert addresses(shop.query("db", "A", source=API)) == ["127.0.20.30"]
    assert addresses(shop.query("db-ro", "A", source=API)) == ["127.0.20.31"]
    assert addresses(shop.query("db_replica", "A", source=API)) == \
        ["127.0.20.31"]
    for qname, port in (("_postgresql._tcp.db", 5432),
                        ("_redis._tcp.cache", 6379),
                        ("_amqp._tcp.queue", 5672),
                        ("_9200._tcp.search", 9200)):
        r = shop.query(qname, "SRV", source=API)
        srv = records(r.answer, "SRV")
        assert [s.port for s in srv] == [port], r


def test_shop_worker_alias_and_ptr(shop):
    r = shop.query("_smtp._tcp.smtp", "SRV", source=WORKER_1)
    assert [(s.port, s.target.to_text()) for s in records(r.answer, "SRV")] \
        == [(25, "smtp.link.internal.")], r
    r = shop.query(reverse_name("127.0.20.80"), "PTR", source=WORKER_1)
    assert [p.target.to_text() for p in records(r.answer, "PTR")] == \
        ["smtp.link.internal."], r
    assert addresses(shop.query("pg", "A", source=BACKUP)) == ["127.0.20.30"]
    assert addresses(shop.query("prometheus", "A", source=GRAFANA)) == \
        ["127.0.20.90"]


def test_shop_isolation(shop):
    for src, name in ((LB, "db"), (LB, "api"), (WORKER_1, "cache"),
                      (GRAFANA, "db"), (BACKUP, "db-ro"), (API, "smtp")):
        r = shop.query(name, "A", source=src)
        assert rcode_text(r) == "REFUSED" and not r.answer, (src, name, r)
