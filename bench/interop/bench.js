// Loopback benchmark: ping RTT and single-stream throughput for js-libp2p <-> js-libp2p, and for
// p2pswarm <-> p2pswarm when given a command that prints the same measurements as JSON.
//
//   node bench/interop/bench.js [--pings 200] [--warmup 20] [--mib 256] [--runs 3] [--p2pswarm "CMD ..."]
//
// Both sides are measured the same way: RTT = round trips of 32 random bytes on one /ipfs/ping/1.0.0
// stream (after warm-up, high-resolution clock); throughput = one /p2pswarm/sink/1.0.0 stream carrying
// --mib MiB from dialer to listener, timed until the listener's byte count arrives; median of --runs.
import '../../tests/interop/js/polyfill.js'
import { execFileSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { startPeer } from '../../tests/interop/js/control.js'

const { values: args } = parseArgs({
  options: {
    pings: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '20' },
    mib: { type: 'string', default: '256' },
    runs: { type: 'string', default: '3' },
    p2pswarm: { type: 'string' },
    json: { type: 'boolean', default: false }
  }
})
const settings = {
  pings: Number(args.pings),
  warmup: Number(args.warmup),
  bytes: Number(args.mib) * 1024 * 1024,
  runs: Number(args.runs)
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

async function measureJs () {
  const listener = await startPeer(['--no-dht'])
  const dialer = await startPeer(['--no-dht'])
  try {
    const ping = await dialer.command('ping', { addr: listener.addrs[0], count: settings.pings, warmup: settings.warmup })
    const throughputs = []
    for (let run = 0; run < settings.runs; run++) {
      const sink = await dialer.command('sink', { addr: listener.addrs[0], bytes: settings.bytes, timeoutMs: 600_000 })
      throughputs.push(sink.mibPerSecond)
    }
    return {
      rttMedianMs: ping.median,
      rttP90Ms: ping.p90,
      throughputMibPerSecond: median(throughputs),
      throughputRuns: throughputs
    }
  } finally {
    await dialer.stop()
    await listener.stop()
  }
}

/** The p2pswarm side is a separate program (it needs the .NET host); it prints one JSON object like measureJs's. */
function measureP2pswarm (commandLine) {
  const [file, ...rest] = commandLine.split(' ').filter((part) => part !== '')
  const output = execFileSync(file, [...rest,
    '--pings', String(settings.pings), '--warmup', String(settings.warmup),
    '--mib', String(settings.bytes / (1024 * 1024)), '--runs', String(settings.runs)],
  { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1024 * 1024 })
  return JSON.parse(output.trim().split('\n').pop())
}

const rows = [['js-libp2p <-> js-libp2p', await measureJs()]]
if (args.p2pswarm != null) {
  rows.push(['p2pswarm <-> p2pswarm', measureP2pswarm(args.p2pswarm)])
}

if (args.json) {
  console.log(JSON.stringify({ settings, results: Object.fromEntries(rows) }))
} else {
  const format = (value, digits) => value.toFixed(digits)
  console.log(`Loopback, ${settings.pings} pings after ${settings.warmup} warm-up; ${settings.bytes / (1024 * 1024)} MiB per stream, median of ${settings.runs} runs.`)
  console.log('')
  console.log('| pair | ping RTT median (ms) | ping RTT p90 (ms) | single-stream throughput (MiB/s) |')
  console.log('|---|---:|---:|---:|')
  for (const [name, r] of rows) {
    console.log(`| ${name} | ${format(r.rttMedianMs, 3)} | ${format(r.rttP90Ms, 3)} | ${format(r.throughputMibPerSecond, 1)} |`)
  }
  if (rows.length === 2) {
    const [js, ours] = [rows[0][1], rows[1][1]]
    console.log(`| p2pswarm / js | ${format(ours.rttMedianMs / js.rttMedianMs, 2)}x | ${format(ours.rttP90Ms / js.rttP90Ms, 2)}x | ${format(ours.throughputMibPerSecond / js.throughputMibPerSecond, 2)}x |`)
  }
}
