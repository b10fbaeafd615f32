#!/usr/bin/env python3
"""Interleaved A/B of swarm builds. Usage: ab.py ROUNDS TOKENS label=path/to/p2pswarm [label=...]
Each build gets its own 3 servers; rounds alternate builds and modes (local, push, nopush).
Per run: ms/token (client json), server CPU ms per hop per token (utime+stime delta summed / 3 / tokens),
server context switches per hop per token, client CPU s."""
import json, os, re, resource, signal, statistics, subprocess, sys, tempfile, time
HZ = os.sysconf('SC_CLK_TCK')
rounds, tokens = int(sys.argv[1]), int(sys.argv[2])
builds = []
envs = {}
cenvs = {}
for a in sys.argv[3:]:
    label, rest = a.split('=', 1)
    exe, _, extra = rest.partition('@')
    extra, _, cextra = extra.partition('%')
    builds.append((label, exe))
    envs[label] = dict(kv.split('=', 1) for kv in extra.split(';') if kv)
    cenvs[label] = dict(envs[label], **dict(kv.split('=', 1) for kv in cextra.split(';') if kv))
work = tempfile.mkdtemp()
env = dict(os.environ, P2PSWARM_HOME=work)
first = builds[0][1]
subprocess.run([first, 'model', 'init', f'{work}/tiny', '--preset', 'tiny', '--seed', '1'], env=env, stdout=subprocess.DEVNULL, check=True)
procs = []
def stat(pid):
    s = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
    cpu = (int(s[11]) + int(s[12])) / HZ
    # context switches of all the process's threads (the process's own status counts only its main thread)
    vs = ns = 0
    for t in os.listdir(f'/proc/{pid}/task'):
        try:
            tst = open(f'/proc/{pid}/task/{t}/status').read()
            vs += int(re.search(r'\nvoluntary_ctxt_switches:\s+(\d+)', tst).group(1)); ns += int(re.search(r'nonvoluntary_ctxt_switches:\s+(\d+)', tst).group(1))
        except FileNotFoundError: pass
    return cpu, vs + ns
servers = {}
try:
    for label, exe in builds:
        ps = []
        for span in ['0-3', '3-6', '6-8']:
            log = open(f'{work}/{label}-{span}.log', 'w')
            p = subprocess.Popen([exe, 'serve', '--model', f'{work}/tiny', '--blocks', span, '--listen', '/ip4/127.0.0.1/tcp/0'], env=dict(env, **envs[label]), stdout=log, stderr=subprocess.STDOUT)
            procs.append(p); ps.append((span, p))
        peers = []
        for span, p in ps:
            for _ in range(600):
                txt = open(f'{work}/{label}-{span}.log').read()
                if 'ONLINE' in txt: break
                time.sleep(0.1)
            peers += ['--initial-peers', re.search(r'^/ip4/127\.0\.0\.1\S+', txt, re.M).group(0)]
        servers[label] = ([p.pid for _, p in ps], peers)
    results = {}
    print(f'load before: {open("/proc/loadavg").read().strip()}', flush=True)
    ids = {}
    for r in range(rounds):
        order = builds if r % 2 == 0 else builds[::-1]
        for label, exe in order:
            pids, peers = servers[label]
            for mode in ['local', 'push', 'nopush']:
                cmd = [exe, 'generate', '--model', f'{work}/tiny', '--prompt', 'The quick brown fox', '--max-tokens', str(tokens), '--json']
                cmd += ['--local'] if mode == 'local' else peers + ['--trace'] + (['--no-push'] if mode == 'nopush' else [])
                before = [stat(p) for p in pids]
                ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                out = subprocess.run(cmd, env=dict(env, **cenvs[label]), capture_output=True, text=True)
                ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                after = [stat(p) for p in pids]
                if out.returncode != 0:
                    print(label, mode, 'FAILED', out.stderr[-2000:], flush=True); continue
                j = json.loads(out.stdout)
                ids.setdefault(mode, set()).add(tuple(j['token_ids']))
                n = len(j['token_ids'])
                scpu = sum(a[0] - b[0] for a, b in zip(after, before)) * 1000 / 3 / n
                sctx = sum(a[1] - b[1] for a, b in zip(after, before)) / 3 / n
                ccpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
                fwd = []
                for line in out.stderr.splitlines():
                    m = re.match(r'token (\d+):', line)
                    if m and int(m.group(1)) > 0:
                        fwd.append(sum(float(x) for x in re.findall(r'(?:compute|network) ([0-9.]+) ms', line)))
                fmed = statistics.median(fwd) if fwd else float('nan')
                row = dict(ms=j['ms_per_token'], scpu=scpu, sctx=sctx, ccpu=ccpu, fwd=fmed)
                results.setdefault((label, mode), []).append(row)
                print(f'r{r} {label:8} {mode:7} ms/tok {row["ms"]:.3f}  fwdmed {fmed:.3f}  srvCPU/hop/tok {scpu:.3f} ms  srvCtx/hop/tok {sctx:.1f}  clientCPU {ccpu:.2f} s  load {open("/proc/loadavg").read().split()[0]}', flush=True)
    print(f'load after: {open("/proc/loadavg").read().strip()}')
    print('token ids equal across all runs:', len(set().union(*ids.values())) == 1)
    print('\nmedians:')
    for label, _ in builds:
        for mode in ['local', 'push', 'nopush']:
            rows = results.get((label, mode), [])
            if not rows: continue
            m = statistics.median(x['ms'] for x in rows)
            # per-round overhead
            locs = [x['ms'] for x in results[(label, 'local')]]
            ov = [(x['ms'] - l) / 3 for x, l in zip(rows, locs)]
            fm = statistics.median(x['fwd'] for x in rows) if mode != 'local' else float('nan')
            print(f'{label:8} {mode:7} ms/tok {m:.3f}  fwd-median/tok {fm:.3f}  overhead/hop med {statistics.median(ov):.3f} ({sum(o <= 0.5 for o in ov)}/{len(ov)} <= 0.5)  srvCPU/hop/tok {statistics.median(x["scpu"] for x in rows):.3f} ms  srvCtx/hop/tok {statistics.median(x["sctx"] for x in rows):.1f}  clientCPU {statistics.median(x["ccpu"] for x in rows):.2f} s')
finally:
    for p in procs: p.send_signal(signal.SIGTERM)
    for p in procs:
        try: p.wait(10)
        except subprocess.TimeoutExpired: p.kill()
