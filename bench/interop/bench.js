// Loopback benchmark: ping RTT and single-stream throughput for js-libp2p <-> js-libp2p and, with
// --p2pswarm, for p2pswarm <-> p2pswarm (bench/interop/LoopbackBench, a .NET program on the Host API),
// the two mixed pairs, and the floor pair (Noise frames over TCP with no libp2p: the bound for any stack).
//
//   node bench/interop/bench.js [--pings 200] [--warmup 20] [--mib 1024] [--rounds 15] [--p2pswarm "dotnet LoopbackBench.dll"]
//                               [--fresh-dialer]
//
// Each implementation has one long-lived dialer process, warmed up once per listener (16 MiB stream); with
// --fresh-dialer the p2pswarm dialer is a new process per measurement instead (JIT warm-up inside every round).
//
// Every side is measured the same way: RTT = round trips of 32 random bytes on one /ipfs/ping/1.0.0 stream
// after --warmup unreported ones (high-resolution clock); throughput = one /p2pswarm/sink/1.0.0 stream
// carrying --mib MiB from dialer to listener, timed until the listener's byte count arrives. Listener and
// dialer are separate processes. The pairs are measured in interleaved rounds so that a change in machine
// load hits all of them alike; RTT percentiles pool every round's samples, throughput is the median round.
// 15 rounds by default (2-3 minutes): js <-> js streamed 305-584 MiB/s in most rounds and 601-846 in 48 of 180
// (twelve runs on 2026-11-24), in bursts of up to 8 of a run's 15; the median of 5 rounds followed a burst in 3 of 16
// runs earlier that day (js median 659-766 MiB/s). docs/benchmarks.md has the numbers.
// A 1 GiB stream lasts 0.5-3.5 s, long enough to time at every pair's speed.
// CPU per MiB: the CPU time (utime + stime, /proc/<pid>/stat) the dialer and listener processes spent during a
// measurement (its pings, and on a dialer's first visit to a listener its warm-up, included) over the MiB streamed,
// median round. Both pairs are CPU-bound on a small machine, so this is what throughput tends to when the machine is
// otherwise idle, and it moves far less with other load than MiB/s does. Not measured with --fresh-dialer.
import '../../tests/interop/js/polyfill.js'
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { startPeer } from '../../tests/interop/js/control.js'

const { values: args } = parseArgs({
  options: {
    pings: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '20' },
    mib: { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '15' },
    p2pswarm: { type: 'string' },
    'fresh-dialer': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false }
  }
})
const settings = {
  pings: Number(args.pings),
  warmup: Number(args.warmup),
  bytes: Number(args.mib) * 1024 * 1024,
  rounds: Number(args.rounds)
}
const WARMUP_SINK_BYTES = 16 * 1024 * 1024
// The floor pair (LoopbackBench floor-listen / floor-dialer, FloorProtocol.cs): Noise transport frames over one TCP
// connection with no framework, no handshake, no multistream, no muxer; one blocking thread per side. What any
// Noise-over-TCP stack pays at least per byte here, measured in the same rounds as the libp2p pairs.
const FLOOR = 'floor: Noise frames over TCP, no libp2p'
const JS_PAIR = 'js-libp2p <-> js-libp2p'
const OUR_PAIR = 'p2pswarm <-> p2pswarm'

const sortedCopy = (values) => [...values].sort((a, b) => a - b)
const median = (values) => {
  const sorted = sortedCopy(values)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
const percentile = (values, q) => {
  const sorted = sortedCopy(values)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

async function startJsListener () {
  const peer = await startPeer(['--no-dht'])
  return { addr: peer.addrs[0], pid: peer.pid, stop: () => peer.stop() }
}

/** One long-lived js dialer, warmed up once per listener (JIT, connection, yamux window growth). */
async function startJsDialer () {
  const peer = await startPeer(['--no-dht'])
  const warmed = new Set()
  return {
    async measure (addr) {
      if (!warmed.has(addr)) {
        await peer.command('sink', { addr, bytes: WARMUP_SINK_BYTES, timeoutMs: 600_000 })
        warmed.add(addr)
      }
      const ping = await peer.command('ping', { addr, count: settings.pings, warmup: settings.warmup })
      const sink = await peer.command('sink', { addr, bytes: settings.bytes, timeoutMs: 600_000 })
      return { rtts: ping.rtts, mibPerSecond: sink.mibPerSecond }
    },
    pid: peer.pid,
    stop: () => peer.stop()
  }
}

function p2pswarmCommand (mode) {
  const [file, ...rest] = args.p2pswarm.split(' ').filter((part) => part !== '')
  return [file, [...rest, mode]]
}

async function startP2pswarmListener (mode = 'listen') {
  const [file, argv] = p2pswarmCommand(mode)
  const child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'inherit'] })
  const [line] = await once(createInterface({ input: child.stdout }), 'line')
  return {
    addr: line.trim(),
    pid: child.pid,
    stop: async () => {
      child.stdin.end()
      await once(child, 'exit')
    }
  }
}

/**
 * One long-lived p2pswarm dialer, warmed up once per listener, as the js dialer is: each measurement is one
 * listener address on its stdin and one JSON line back.
 */
async function startP2pswarmDialer (mode = 'dialer') {
  const [file, argv] = p2pswarmCommand(mode)
  const child = spawn(file, [...argv, '--pings', String(settings.pings), '--warmup', String(settings.warmup),
    '--mib', String(settings.bytes / (1024 * 1024)), '--warmup-mib', String(WARMUP_SINK_BYTES / (1024 * 1024))],
  { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  return {
    async measure (addr) {
      child.stdin.write(addr + '\n')
      const { value, done } = await lines.next()
      if (done) throw new Error(`the ${mode} process exited`)
      const result = JSON.parse(value)
      return { rtts: result.rtts, mibPerSecond: result.throughputMibPerSecond }
    },
    pid: child.pid,
    stop: async () => {
      child.stdin.end()
      await once(child, 'exit')
    }
  }
}

/** --fresh-dialer: a new p2pswarm dialer process per measurement; it warms up with its own ping and sink rounds first. */
function startFreshP2pswarmDialer () {
  return {
    async measure (addr) {
      const [file, argv] = p2pswarmCommand('measure')
      const output = execFileSync(file, [...argv, '--addr', addr,
        '--pings', String(settings.pings), '--warmup', String(settings.warmup),
        '--mib', String(settings.bytes / (1024 * 1024)), '--runs', '1',
        '--warmup-mib', String(WARMUP_SINK_BYTES / (1024 * 1024))],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 * 1024 * 1024 })
      const result = JSON.parse(output.trim().split('\n').pop())
      return { rtts: result.rtts, mibPerSecond: result.throughputMibPerSecond }
    },
    pid: null,
    stop: async () => {}
  }
}

const listeners = { js: await startJsListener() }
const dialers = { js: await startJsDialer() }
const pairs = [[JS_PAIR, 'js', 'js']]
if (args.p2pswarm != null) {
  listeners.p2pswarm = await startP2pswarmListener()
  dialers.p2pswarm = args['fresh-dialer'] ? startFreshP2pswarmDialer() : await startP2pswarmDialer()
  pairs.push([OUR_PAIR, 'p2pswarm', 'p2pswarm'])
  pairs.push(['p2pswarm dials js-libp2p', 'p2pswarm', 'js'])
  pairs.push(['js-libp2p dials p2pswarm', 'js', 'p2pswarm'])
  listeners.floor = await startP2pswarmListener('floor-listen')
  dialers.floor = await startP2pswarmDialer('floor-dialer')
  pairs.push([FLOOR, 'floor', 'floor'])
}

/** Waits (at most 10 s) until the machine's CPUs were at least 90 % idle over 250 ms, so that the previous
 * measurement's processes (a js peer collecting the garbage of a 1 GiB stream, a .NET tiering pass) do not run
 * into the next measurement. Every pair waits the same way. */
async function settle () {
  const cpuTimes = () => {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
    return { idle: fields[3] + fields[4], total: fields.reduce((a, b) => a + b, 0) }
  }
  for (let attempt = 0; attempt < 40; attempt++) {
    const before = cpuTimes()
    await new Promise((resolve) => setTimeout(resolve, 250))
    const after = cpuTimes()
    if (after.idle - before.idle >= 0.9 * (after.total - before.total)) return
  }
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }))
/** CPU seconds (user + system) process `pid` has used so far; null without a pid. */
function cpuSeconds (pid) {
  if (pid == null) return null
  // Fields after the parenthesised command name: state is the first, utime the 12th, stime the 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}

const samples = new Map(pairs.map(([name]) => [name, { rtts: [], throughputs: [], cpuMsPerMib: [] }]))
try {
  for (let round = 0; round < settings.rounds; round++) {
    for (const [name, dialer, listener] of pairs) {
      await settle()
      const pids = [dialers[dialer].pid, listeners[listener].pid]
      const before = pids.map(cpuSeconds)
      const result = await dialers[dialer].measure(listeners[listener].addr)
      const after = pids.map(cpuSeconds)
      samples.get(name).rtts.push(...result.rtts)
      samples.get(name).throughputs.push(result.mibPerSecond)
      if (!before.includes(null)) {
        const seconds = (after[0] - before[0]) + (after[1] - before[1])
        samples.get(name).cpuMsPerMib.push(seconds * 1000 / (settings.bytes / (1024 * 1024)))
      }
    }
  }
} finally {
  for (const side of [...Object.values(dialers), ...Object.values(listeners)]) {
    await side.stop()
  }
}

const rows = pairs.map(([name]) => {
  const { rtts, throughputs, cpuMsPerMib } = samples.get(name)
  return [name, {
    rttMedianMs: median(rtts),
    rttP90Ms: percentile(rtts, 0.9),
    throughputMibPerSecond: median(throughputs),
    throughputRounds: throughputs,
    cpuMsPerMib: cpuMsPerMib.length > 0 ? median(cpuMsPerMib) : null,
    cpuMsPerMibRounds: cpuMsPerMib
  }]
})

if (args.json) {
  console.log(JSON.stringify({ settings, results: Object.fromEntries(rows) }))
} else {
  const format = (value, digits) => value.toFixed(digits)
  const dialer = args['fresh-dialer'] ? 'a fresh p2pswarm dialer process per round' : 'long-lived dialers'
  console.log(`Loopback; ${settings.rounds} interleaved rounds, each ${settings.pings} pings after ${settings.warmup} warm-up and one ${settings.bytes / (1024 * 1024)} MiB stream; ${dialer}.`)
  console.log('')
  const cpu = (value) => value == null ? 'n/a' : format(value, 3)
  console.log('| pair | ping RTT median (ms) | ping RTT p90 (ms) | single-stream throughput, median round (MiB/s) | rounds (MiB/s) | CPU ms per MiB, both processes, median round | rounds |')
  console.log('|---|---:|---:|---:|---|---:|---|')
  for (const [name, r] of rows) {
    console.log(`| ${name} | ${format(r.rttMedianMs, 3)} | ${format(r.rttP90Ms, 3)} | ${format(r.throughputMibPerSecond, 1)} | ${r.throughputRounds.map((t) => format(t, 0)).join(', ')} | ${cpu(r.cpuMsPerMib)} | ${r.cpuMsPerMibRounds.map((c) => format(c, 2)).join(', ')} |`)
  }
  if (rows.length > 1) {
    const byName = Object.fromEntries(rows)
    const js = byName[JS_PAIR]
    // CPU column: how many times more CPU js <-> js spends per MiB (the throughput ratio's direction: higher is better).
    const versusJs = (label, other) => {
      const cpuRatio = js.cpuMsPerMib == null || other.cpuMsPerMib == null ? 'n/a' : `${format(js.cpuMsPerMib / other.cpuMsPerMib, 2)}x less`
      console.log(`| ${label} vs js <-> js | ${format(other.rttMedianMs / js.rttMedianMs, 2)}x | ${format(other.rttP90Ms / js.rttP90Ms, 2)}x | ${format(other.throughputMibPerSecond / js.throughputMibPerSecond, 2)}x | | ${cpuRatio} | |`)
    }
    versusJs(OUR_PAIR, byName[OUR_PAIR])
    versusJs('floor', byName[FLOOR])
    // Per round: each pair's round r ran next to the others' round r, so these ratios share the machine's state.
    const perRound = (other) => js.throughputRounds.map((t, r) => format(other.throughputRounds[r] / t, 2)).join(', ')
    console.log('')
    console.log(`Throughput over js <-> js, round by round: p2pswarm ${perRound(byName[OUR_PAIR])}; floor ${perRound(byName[FLOOR])}`)
    // js <-> js varies three times as much from round to round as the floor does (coefficient of variation 0.31 against
    // 0.10 over 180 rounds, docs/benchmarks.md), so this ratio moves far less from run to run than the one over js.
    const overFloor = byName[OUR_PAIR].throughputRounds.map((t, r) => t / byName[FLOOR].throughputRounds[r])
    console.log(`p2pswarm over the floor, round by round (median ${format(median(overFloor), 2)}): ${overFloor.map((x) => format(x, 2)).join(', ')}`)
  }
}
