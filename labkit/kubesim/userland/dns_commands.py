"""``nslookup``, ``getent hosts`` and ``dig`` answering from cluster DNS (:mod:`.dns`), in the
wording of the image's tools: busybox's nslookup (1.28's old format for ``busybox:1.28``, which
kubernetes.io's DNS pages use), bind's nslookup and dig (dnsutils images), glibc's getent.
"""
from __future__ import annotations

from datetime import datetime, timezone

from . import dns
from .command_io import _err
from .filesystem import CLUSTER_DNS
from .shell import IO, Shell


def _conf(sh: Shell) -> tuple[str, str]:
    files = sh.view.files
    return (files.get("/etc/resolv.conf") or b"").decode(), (files.get("/etc/hosts") or b"").decode()


def _old_busybox(sh: Shell) -> bool:
    ref = sh.view.image.ref
    return sh.view.family.name == "busybox" and any(f":{v}" in ref for v in ("1.28", "1.27", "1.26", "1.25", "1.24"))


def _nslookup(sh: Shell, argv: list[str], io: IO) -> int:
    args = [a for a in argv[1:] if not a.startswith("-")]
    if not args:
        _err(sh, io, "Usage: nslookup [-type=QUERY_TYPE] [-debug] HOST [DNS_SERVER]" if sh.view.family.busybox
             else "Usage: nslookup [HOST [SERVER]]")
        return 1
    name = args[0]
    conf, _hosts = _conf(sh)
    servers, search, ndots = dns.resolver(conf)
    server = args[1] if len(args) > 1 else (servers[0] if servers else CLUSTER_DNS)
    answer = None
    if server == CLUSTER_DNS and not dns.server_answers(sh.store):
        io.out(b";; connection timed out; no servers could be reached\n\n")
        return 1
    if server == CLUSTER_DNS:
        if name.replace(".", "").isdigit():
            ptr = dns.reverse(sh.store, name)
            answer = dns.Answer(ptr, [name]) if ptr else None
        else:
            answer = dns.resolve(sh.store, name, conf.replace(f"nameserver {servers[0]}" if servers else "", f"nameserver {CLUSTER_DNS}"))
    if _old_busybox(sh):
        out = f"Server:    {server}\nAddress 1: {server}{' kube-dns.kube-system.svc.cluster.local' if server == CLUSTER_DNS else ''}\n\n"
        if answer is None or not answer.addresses:
            io.out(out.encode())
            _err(sh, io, f"nslookup: can't resolve '{name}'")
            return 1
        out += f"Name:      {name}\n"
        for i, ip in enumerate(answer.addresses, 1):
            back = dns.reverse(sh.store, ip)
            out += f"Address {i}: {ip}{' ' + back if back else ''}\n"
        io.out(out.encode())
        return 0
    sep = ":" if sh.view.family.busybox else "#"
    out = f"Server:\t\t{server}\nAddress:\t{server}{sep}53\n\n"
    if answer is None:
        out += f"** server can't find {name}: NXDOMAIN\n\n"
        io.out(out.encode())
        return 1
    if name.replace(".", "").isdigit():
        rev = ".".join(reversed(name.split("."))) + ".in-addr.arpa"
        out += f"{rev}\tname = {answer.name}\n\n" if sh.view.family.busybox else f"{rev}\tname = {answer.name}.\n\n"
        io.out(out.encode())
        return 0
    if answer.cname:
        out += f"{answer.name}\tcanonical name = {answer.cname}\n" if sh.view.family.busybox else f"{answer.name}\tcanonical name = {answer.cname}.\n"
    for ip in answer.addresses:
        out += f"Name:\t{answer.name}\nAddress: {ip}\n"
    io.out((out + "\n").encode())
    return 0


def _getent(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        _err(sh, io, "Usage: getent [OPTION...] database [key ...]")
        return 1
    db, keys = argv[1], argv[2:]
    if db not in ("hosts", "ahosts", "ahostsv4", "passwd", "group"):
        _err(sh, io, f"Unknown database: {db}")
        return 1
    if db in ("passwd", "group"):
        text = (sh.view.files.get(f"/etc/{db}") or b"").decode()
        lines = [line for line in text.splitlines() if not keys or line.split(":", 1)[0] in keys]
        io.out("".join(line + "\n" for line in lines).encode())
        return 0 if lines else 2
    if not keys:
        io.out(sh.view.files.get("/etc/hosts") or b"")
        return 0
    conf, hosts = _conf(sh)
    status = 0
    for key in keys:
        answer = dns.resolve(sh.store, key, conf, hosts)
        if answer is None or not answer.addresses:
            status = 2
            continue
        shown = answer.name
        for ip in answer.addresses:
            if db == "hosts":
                io.out(f"{ip:<15} {shown}\n".encode())
            else:
                for kind in ("STREAM", "DGRAM", "RAW"):
                    io.out(f"{ip:<15} {kind:<6} {shown if kind == 'STREAM' else ''}".rstrip().encode() + b"\n")
    return status


def _dig(sh: Shell, argv: list[str], io: IO) -> int:
    short = "+short" in argv
    names = [a for a in argv[1:] if not a.startswith("+") and not a.startswith("-") and not a.startswith("@")]
    search = "+search" in argv
    conf, _ = _conf(sh)
    name = names[0] if names else "."
    if search:
        answer = dns.resolve(sh.store, name, conf)
    else:
        answer = dns.lookup(sh.store, name)
    fqdn = (answer.name if answer else name.rstrip(".")) + "."
    if short:
        if answer:
            if answer.cname:
                io.out(f"{answer.cname}.\n".encode())
            io.out("".join(ip + "\n" for ip in answer.addresses).encode())
        return 0
    status = "NOERROR" if answer else "NXDOMAIN"
    count = len(answer.addresses) + (1 if answer and answer.cname else 0) if answer else 0
    out = (f"\n; <<>> DiG 9.18.28-1~deb12u2-Debian <<>> {' '.join(argv[1:])}\n;; global options: +cmd\n;; Got answer:\n"
           f";; ->>HEADER<<- opcode: QUERY, status: {status}, id: 4242\n"
           f";; flags: qr aa rd; QUERY: 1, ANSWER: {count}, AUTHORITY: {0 if answer else 1}, ADDITIONAL: 1\n"
           f";; WARNING: recursion requested but not available\n\n;; QUESTION SECTION:\n;{fqdn}\t\t\tIN\tA\n\n")
    if answer and count:
        out += ";; ANSWER SECTION:\n"
        if answer.cname:
            out += f"{fqdn}\t30\tIN\tCNAME\t{answer.cname}.\n"
        out += "".join(f"{fqdn}\t30\tIN\tA\t{ip}\n" for ip in answer.addresses) + "\n"
    out += (f";; Query time: 0 msec\n;; SERVER: {CLUSTER_DNS}#53({CLUSTER_DNS}) (UDP)\n"
            f";; WHEN: {datetime.fromtimestamp(sh.view.clock(), timezone.utc).strftime('%a %b %d %H:%M:%S UTC %Y')}\n"
            f";; MSG SIZE  rcvd: {60 + 16 * count}\n\n")
    io.out(out.encode())
    return 0
