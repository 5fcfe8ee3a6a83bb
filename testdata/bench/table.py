#!/usr/bin/env python3
"""Print testdata/bench/run's one table (Markdown) from OUT/raw/*.txt.

Each raw file holds one figure per run ("fail" for a failed run); the table
shows medians, the number of good runs, the ratios and each target.
"""
import datetime
import os
import re
import statistics
import sys

out = sys.argv[1]
raw = os.path.join(out, "raw")


def runs(name):
    p = os.path.join(raw, name + ".txt")
    if not os.path.exists(p):
        return [], 0
    vals = [l.strip() for l in open(p) if l.strip()]
    good = [float(v) for v in vals if v != "fail"]
    return good, len(vals) - len(good)


def med(name):
    good, _ = runs(name)
    return statistics.median(good) if good else None


def cell(name):
    good, bad = runs(name)
    if not good:
        return "failed" if bad else "–"
    s = f"{statistics.median(good):.2f} s"
    if bad:
        s += f" ({bad} failed)"
    return s


def ratio(a, b):
    return f"{a / b:.2f}×" if a and b else "–"


print(f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on "
      f"{os.cpu_count()} cores; medians of {max(len(runs(n)[0]) for n in ['ssh-full10', 'ssh-light50'] + [f[:-4] for f in (os.listdir(raw) if os.path.isdir(raw) else []) if re.match(r'ssh-inst[0-9]+[.]txt$', f)])} runs.\n")
print("| what | hosts | aginstall | OpenSSH floor | Ansible | aginstall / floor | aginstall / Ansible |")
print("| --- | --- | --- | --- | --- | --- | --- |")
rows = [
    ("connect + `true` (remote.Pool) vs `-m ping`", "10 full", "fanout-full10", "ssh-full10", "ping-full10"),
    ("connect + `true` (remote.Pool) vs `-m ping`", "50 light", "fanout-light50", "ssh-light50", "ping-light50"),
    ("`aginstall review` vs `-m setup`", "3 full", "review-full3", "ssh-full3", "setup-full3"),
    ("`aginstall review` vs `-m setup`", "10 full", "review-full10", "ssh-full10", "setup-full10"),
    ("`aginstall review` vs `-m setup`", "10 light", "review-light10", "ssh-light10", "setup-light10"),
    ("`aginstall review` vs `-m setup`", "50 light", "review-light50", "ssh-light50", "setup-light50"),
]
# The installed lab at each size the run measured (3 and 5 full hosts by default).
inst_sizes = sorted({int(m.group(1)) for f in (os.listdir(raw) if os.path.isdir(raw) else [])
                     for m in [re.match(r"(?:review|ssh|noop|install)-inst(\d+)\.txt$", f)] if m})
for n in inst_sizes:
    rows.append(("`aginstall review` vs `-m setup`, stack installed", f"{n} full", f"review-inst{n}", f"ssh-inst{n}", f"setup-inst{n}"))
for n in inst_sizes:
    rows.append(("no-op `apply` (the second one), stack installed", f"{n} full", f"noop-inst{n}", f"ssh-inst{n}", ""))
# The installed review on the sysadmin's road (a sudo user with a password);
# its floor is OpenSSH logging in as that user.
sudo_sizes = sorted({int(m.group(1)) for f in (os.listdir(raw) if os.path.isdir(raw) else [])
                     for m in [re.match(r"(?:review|ssh|install)-sudo(\d+)\.txt$", f)] if m})
for n in sudo_sizes:
    rows.append(("`aginstall review`, stack installed, as a sudo user with a password (floor: OpenSSH as that user)",
                 f"{n} full", f"review-sudo{n}", f"ssh-sudo{n}", ""))
for n in sudo_sizes:
    rows.append(("install from bare hosts (`apply`) as a sudo user with a password, Docker from the mirror of Docker's repository",
                 f"{n} full", f"install-sudo{n}", "", ""))
CRIT = ("apt_slowest", "build", "push", "converge")


def critical(n):
    """The install's critical path by hand at n hosts: the slowest host's apt
    install of Docker + the image build + the push + the convergence."""
    parts = [med(f"plain-{p}-inst{n}") for p in CRIT]
    return sum(parts) if all(parts) else None
for what, hosts, a, f, b in rows:
    if not (runs(a)[0] or runs(a)[1] or (f and runs(f)[0])):
        continue
    print(f"| {what} | {hosts} | {cell(a)} | {cell(f) if f else '–'} | {cell(b) if b else '–'} | "
          f"{ratio(med(a), med(f)) if f else '–'} | {ratio(med(a), med(b)) if b else '–'} |")
for n in inst_sizes:
    a, c = med(f"install-inst{n}"), critical(n)
    if a or c:
        print(f"| install from bare hosts (`apply`) vs its critical path by hand (floor column) | {n} full | {cell(f'install-inst{n}')} | "
              f"{f'{c:.2f} s' if c else '–'} | – | {ratio(a, c)} | – |")


def go_dur(s):
    """Seconds of a Go duration as apply prints it: 1m17.9s, 32.46s, 390ms."""
    total = 0.0
    for num, unit in re.findall(r"([0-9.]+)(h|ms|m|s|µs)", s):
        total += float(num) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "µs": 1e-6}[unit]
    return total


for n in inst_sizes:
    steps_file = os.path.join(out, f"install-steps-inst{n}.txt")
    plain = {p: med(f"plain-{p}-inst{n}") for p in ("apt_slowest", "swarm_labels", "registry", "clone_secrets", "build", "push", "deploy", "converge")}
    if os.path.exists(steps_file) or any(plain.values()):
        print(f"\nThe install at {n} full hosts, by step (one run): aginstall `apply` "
              f"{cell(f'install-inst{n}')} in all (every check runs first, together; a step's time is its apply and re-check); " +
              ", ".join(f"{l.split()[0]} {go_dur(l.split()[1]):.1f} s" for l in (open(steps_file) if os.path.exists(steps_file) else []) if len(l.split()) == 2) +
              ". By hand on hosts as fresh, same run: " +
              ", ".join(f"{p} {v:.1f} s" for p, v in plain.items() if v) +
              (f" (critical path {critical(n):.1f} s: slowest apt + build + push + convergence)." if critical(n) else "."))


def hs(name):
    p = os.path.join(raw, name + "-hs.txt")
    if not os.path.exists(p):
        return None
    rows = [list(map(int, l.split())) for l in open(p) if l.strip()]
    return (min(r[0] for r in rows), max(r[1] for r in rows), min(r[2] for r in rows), max(r[3] for r in rows), len(rows))


print("\nSSH connections per host per run, counted in each host's sshd log "
      "(`Accepted publickey` = a login; `Connection closed … [preauth]` = a handshake that never logged in):\n")
print("| run | hosts | logins per host (min–max) | pre-auth handshakes per host (min–max) | runs |")
print("| --- | --- | --- | --- | --- |")
for name, label, hosts in [("review-full10", "`aginstall review`", "10 full"), ("fanout-full10", "remote.Pool + `true`", "10 full"),
                           ("ssh-full10", "OpenSSH ×N", "10 full"),
                           ("review-light50", "`aginstall review`", "50 light"), ("fanout-light50", "remote.Pool + `true`", "50 light")]:
    h = hs(name)
    if h:
        print(f"| {label} | {hosts} | {h[0]}–{h[1]} | {h[2]}–{h[3]} | {h[4]} |")

ui = os.path.join(out, "uiflood.txt")
if os.path.exists(ui):
    rs = [l for l in open(ui) if l.startswith("run ")]
    f = lambda key: [float(re.search(key + r" ([0-9.]+)", l).group(1)) for l in rs]
    p50, p99, mx, heap = f("p50"), f("p99"), f("max"), f("peak-heap-inuse")
    long = [l for l in open(ui) if l.startswith("long ")]
    print(f"\nUI under a flood (10 hosts × 1,000 lines/s × 10 s = 100,000 lines through the wizard's sink, "
          f"Update + View at 120×40, {len(rs)} runs): frame p50 {statistics.median(p50):.2f} ms, "
          f"p99 {statistics.median(p99):.2f} ms (worst run {max(p99):.2f} ms), slowest frame {max(mx):.1f} ms, "
          f"peak HeapInuse {max(heap):.1f} MB.")
    for l in long:
        print(f"Longer flood: {l[5:].strip()}")
bf = os.path.join(out, "benchflood.txt")
if os.path.exists(bf):
    for l in open(bf):
        if l.startswith("BenchmarkFlood"):
            print(f"`go test -bench Flood ./ui/`: `{' '.join(l.split())}`")

print("\nTargets:\n")


def target(ok, text):
    print(f"- {'met' if ok else 'NOT met'}: {text}")


for name, hosts in [("review-full10", "10 full"), ("review-light50", "50 light"), ("fanout-full10", "10 full"), ("fanout-light50", "50 light")]:
    h = hs(name)
    if h:
        target(h[0] == 1 and h[1] == 1 and h[3] == 0,
               f"one SSH handshake per host per run ({name}, {hosts}): logins {h[0]}–{h[1]}, extra pre-auth handshakes {h[2]}–{h[3]} per host")
for a, f, hosts in [("review-full10", "ssh-full10", "10 full"), ("review-light10", "ssh-light10", "10 light"), ("review-light50", "ssh-light50", "50 light")]:
    if med(a) and med(f):
        target(med(a) <= 1.25 * med(f), f"review within 1.25× the OpenSSH floor at {hosts}: {med(a):.2f} s vs {med(f):.2f} s = {med(a) / med(f):.2f}×")
for a, f, hosts in [("review-full10", "ssh-full10", "10 full"), ("review-light50", "ssh-light50", "50 light")]:
    if med(a) and med(f):
        target(med(a) <= 0.5 * med(f), f"fresh review at most 0.5× the OpenSSH floor at {hosts}: {med(a) / med(f):.2f}×")
for n in inst_sizes:
    a, f, r = med(f"review-inst{n}"), med(f"ssh-inst{n}"), med(f"noop-inst{n}")
    if a and f:
        target(a <= 1.25 * f, f"installed review within 1.25× the OpenSSH floor at {n} full hosts: {a:.2f} s vs {f:.2f} s = {a / f:.2f}×")
    if r and a:
        target(r <= 1.5 * a, f"no-op apply within 1.5× the installed review at {n} full hosts: {r:.2f} s vs {a:.2f} s = {r / a:.2f}×")
    i, c = med(f"install-inst{n}"), critical(n)
    if i and c:
        target(i <= 1.3 * c, f"install at most 1.3× its critical path by hand at {n} full hosts: {i:.1f} s vs {c:.1f} s = {i / c:.2f}×")
for n in sudo_sizes:
    a, f = med(f"review-sudo{n}"), med(f"ssh-sudo{n}")
    if a and f:
        target(a <= 1.25 * f, f"installed review as a sudo user within 1.25× the OpenSSH floor at {n} full hosts: {a:.2f} s vs {f:.2f} s = {a / f:.2f}×")
for a, b, hosts in [("review-full3", "setup-full3", "3 full"), ("review-full10", "setup-full10", "10 full"),
                    ("review-light10", "setup-light10", "10 light"), ("review-light50", "setup-light50", "50 light")]:
    if med(a) and med(b):
        target(med(a) <= med(b) / 3, f"review at most ⅓ of Ansible's setup at {hosts}: {med(a):.2f} s vs {med(b):.2f} s = {med(a) / med(b):.2f}×")
if os.path.exists(ui) and rs:
    target(max(p99) < 16, f"UI p99 frame under 16 ms: {max(p99):.2f} ms (worst run)")
    target(max(heap) < 100, f"UI memory under 100 MB: peak HeapInuse {max(heap):.1f} MB")
