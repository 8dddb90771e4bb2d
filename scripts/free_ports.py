"""free_ports.py N: print N distinct ports that can be bound on 127.0.0.1
now, chosen at random below the kernel's ephemeral range (so outgoing
connections never hold them). scripts/stack.sh and the tests' second
Kafka broker (tests/integration/sasl_broker.py) pick their ports with it.
"""
import random
import socket
import sys


def free_ports(n):
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        eph_lo = int(f.read().split()[0])
    hi = eph_lo - 1
    lo = max(10000, hi - 12000)
    chosen = []
    for _ in range(1000):
        if len(chosen) == n:
            return chosen
        p = random.randint(lo, hi)
        if p in chosen:
            continue
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                continue
        chosen.append(p)
    raise RuntimeError("no free ports found")


if __name__ == "__main__":
    try:
        print(" ".join(map(str, free_ports(int(sys.argv[1])))))
    except RuntimeError as e:
        sys.exit(str(e))
