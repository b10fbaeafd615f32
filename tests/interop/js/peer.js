// A long-lived js-libp2p 3.x test peer, driven by line-delimited JSON on stdin/stdout.
//
//   node peer.js [--listen MULTIADDR]... [--key HEX] [--mdns] [--no-dht]
//
// stdout carries only protocol lines: first {"event":"ready","peerId":..,"addrs":[..],"protocols":[..]},
// then one reply per command: {"id":..,"result":..} or {"id":..,"error":".."}. Logs go to stderr.
// A command is {"id":<any>,"cmd":"<name>",...arguments}; see COMMANDS below. Closing stdin stops the peer.
import './polyfill.js'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, identifyPush } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { generateKeyPairFromSeed, privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  ECHO_PROTOCOL, SINK_PROTOCOL, PING_PROTOCOL,
  handleEcho, handleSink, echoOver, sinkOver, pingOver, summarize
} from './streams.js'
import { dhtCommands } from './dht-commands.js'

const DEFAULT_TIMEOUT_MS = 60_000
const MAX_STREAMS_PER_PROTOCOL = 1024

const { values: options } = parseArgs({
  options: {
    listen: { type: 'string', multiple: true },
    key: { type: 'string' },
    mdns: { type: 'boolean', default: false },
    'no-dht': { type: 'boolean', default: false }
  }
})

const log = (...parts) => process.stderr.write(`[peer.js] ${parts.join(' ')}\n`)
const emit = (message) => process.stdout.write(JSON.stringify(message) + '\n')

process.on('unhandledRejection', (err) => log('unhandled rejection:', err?.stack ?? err))
process.on('uncaughtException', (err) => log('uncaught exception:', err?.stack ?? err))

/** `--key` is a libp2p PrivateKey protobuf (the key-file format) or a raw 32-byte Ed25519 seed, in hex. */
async function loadPrivateKey (hex) {
  if (hex == null || hex === '') {
    return undefined
  }
  const bytes = Uint8Array.from(Buffer.from(hex, 'hex'))
  return bytes.byteLength === 32
    ? generateKeyPairFromSeed('Ed25519', bytes)
    : privateKeyFromProtobuf(bytes)
}

function services () {
  const list = {
    identify: identify(),
    identifyPush: identifyPush(),
    ping: ping()
  }
  if (!options['no-dht']) {
    list.dht = kadDHT({
      protocol: '/p2pswarm/kad/1.0.0',
      clientMode: false,
      peerInfoMapper: passthroughMapper,
      allowQueryWithZeroPeers: true,
      validators: { p2pswarm: async () => {} },
      selectors: { p2pswarm: () => 0 }
    })
  }
  return list
}

const node = await createLibp2p({
  privateKey: await loadPrivateKey(options.key ?? process.env.P2P_KEY),
  addresses: { listen: options.listen ?? [process.env.P2P_LISTEN ?? '/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  peerDiscovery: options.mdns ? [mdns({ interval: 1000 })] : [],
  connectionManager: {
    inboundConnectionThreshold: 10_000,
    maxIncomingPendingConnections: 1_000
  },
  services: services()
})

const handlerOptions = { maxInboundStreams: MAX_STREAMS_PER_PROTOCOL, maxOutboundStreams: MAX_STREAMS_PER_PROTOCOL }
await node.handle(ECHO_PROTOCOL, handleEcho, handlerOptions)
await node.handle(SINK_PROTOCOL, handleSink, handlerOptions)
node.addEventListener('peer:discovery', (evt) => log('discovered', evt.detail.id.toString()))

function addrOf (command) {
  if (typeof command.addr !== 'string') {
    throw new Error('missing "addr" (a multiaddr string ending in /p2p/<id>)')
  }
  return multiaddr(command.addr)
}

function describeConnection (connection) {
  return {
    peerId: connection.remotePeer.toString(),
    remoteAddr: connection.remoteAddr.toString(),
    direction: connection.direction,
    multiplexer: connection.multiplexer,
    encryption: connection.encryption,
    status: connection.status,
    streams: connection.streams.map((s) => ({ protocol: s.protocol, direction: s.direction }))
  }
}

// libp2p identifies every new connection by itself, and identify allows one stream at a time per
// connection on each side, so an explicit identify waits for the automatic one to finish (or give up).
const AUTO_IDENTIFY_WAIT_MS = 6_000
const autoIdentified = new Map()
node.addEventListener('connection:open', (evt) => {
  autoIdentified.set(evt.detail.id, Promise.withResolvers())
})
node.addEventListener('connection:close', (evt) => {
  autoIdentified.get(evt.detail.id)?.resolve()
  autoIdentified.delete(evt.detail.id)
})
node.addEventListener('peer:identify', (evt) => {
  autoIdentified.get(evt.detail.connection.id)?.resolve()
})

async function identifyAfterAutomatic (connection, signal) {
  const automatic = autoIdentified.get(connection.id)
  if (automatic != null) {
    let timer
    await Promise.race([automatic.promise, new Promise((resolve) => { timer = setTimeout(resolve, AUTO_IDENTIFY_WAIT_MS) })])
    clearTimeout(timer)
  }
  return node.services.identify.identify(connection, { signal })
}

const COMMANDS = {
  async dial (command, signal) {
    return describeConnection(await node.dial(addrOf(command), { signal }))
  },

  async hangup (command, signal) {
    await node.hangUp(addrOf(command), { signal })
    return {}
  },

  // count round trips on one /ipfs/ping/1.0.0 stream after `warmup` unreported ones; newStreamEach
  // instead uses libp2p's ping service (one stream per ping, whole-millisecond resolution).
  async ping (command, signal) {
    const count = command.count ?? 1
    const warmup = command.warmup ?? 0
    let rtts
    if (command.newStreamEach === true) {
      rtts = []
      for (let i = 0; i < warmup + count; i++) {
        const rtt = await node.services.ping.ping(addrOf(command), { signal })
        if (i >= warmup) {
          rtts.push(rtt)
        }
      }
    } else {
      // The ping service allows one outbound ping stream per connection, and libp2p's connection monitor pings on its
      // own every 10 s: without room for both, a measurement that meets the monitor's stream fails ("2/1").
      const stream = await node.dialProtocol(addrOf(command), PING_PROTOCOL, { signal, maxOutboundStreams: MAX_STREAMS_PER_PROTOCOL })
      rtts = await pingOver(stream, count, warmup, { signal })
    }
    return { rtts, ...summarize(rtts) }
  },

  async identify (command, signal) {
    const connection = await node.dial(addrOf(command), { signal })
    const result = await identifyAfterAutomatic(connection, signal)
    return {
      peerId: result.peerId.toString(),
      publicKey: result.publicKey == null ? null : Buffer.from(result.publicKey).toString('hex'),
      protocols: result.protocols,
      listenAddrs: result.listenAddrs.map((a) => a.toString()),
      observedAddr: result.observedAddr?.toString() ?? null,
      agentVersion: result.agentVersion ?? null,
      protocolVersion: result.protocolVersion ?? null,
      hasSignedPeerRecord: result.signedPeerRecord != null
    }
  },

  async echo (command, signal) {
    const stream = await node.dialProtocol(addrOf(command), command.protocol ?? ECHO_PROTOCOL, { signal })
    const bytes = command.bytes ?? 1024
    const ms = await echoOver(stream, bytes, { signal })
    return { ok: true, bytes, ms }
  },

  // count concurrent echo streams of `bytes` each, all on one connection.
  async streams (command, signal) {
    const count = command.count ?? 100
    const bytes = command.bytes ?? 64 * 1024
    const protocol = command.protocol ?? ECHO_PROTOCOL
    const connection = await node.dial(addrOf(command), { signal })
    const start = performance.now()
    const opened = await Promise.all(Array.from({ length: count }, () =>
      connection.newStream(protocol, { signal, maxOutboundStreams: count + MAX_STREAMS_PER_PROTOCOL })))
    const openStreams = connection.streams.filter((s) => s.protocol === protocol && s.direction === 'outbound').length
    await Promise.all(opened.map((stream) => echoOver(stream, bytes, { signal })))
    return { ok: true, count, bytes, openStreams, connectionId: connection.id, ms: performance.now() - start }
  },

  async sink (command, signal) {
    const bytes = command.bytes ?? 64 * 1024 * 1024
    const stream = await node.dialProtocol(addrOf(command), SINK_PROTOCOL, { signal })
    const { ms } = await sinkOver(stream, bytes, { signal })
    return { bytes, ms, mibPerSecond: (bytes / (1024 * 1024)) / (ms / 1000) }
  },

  // Serves `protocol` with the echo handler from now on; libp2p then pushes identify to connected peers.
  async handle (command) {
    await node.handle(command.protocol, handleEcho, handlerOptions)
    return { protocols: node.getProtocols() }
  },

  // What this peer has stored about `peerId` (identify and identify push write here).
  async peerstore (command) {
    const peer = await node.peerStore.get(peerIdFromString(command.peerId))
    return {
      protocols: peer.protocols,
      addresses: peer.addresses.map((a) => a.multiaddr.toString()),
      agentVersion: peer.metadata.has('AgentVersion') ? new TextDecoder().decode(peer.metadata.get('AgentVersion')) : null
    }
  },

  async peers () {
    return node.getConnections().map(describeConnection)
  },

  async stop () {
    await node.stop()
    return {}
  }
}

Object.assign(COMMANDS, dhtCommands(node))

async function run (command) {
  const handler = Object.hasOwn(COMMANDS, command.cmd) ? COMMANDS[command.cmd] : undefined
  if (handler == null) {
    throw new Error(`unknown command ${JSON.stringify(command.cmd)}; known: ${Object.keys(COMMANDS).join(', ')}`)
  }
  const signal = AbortSignal.timeout(command.timeoutMs ?? DEFAULT_TIMEOUT_MS)
  return handler(command, signal)
}

async function shutdown (code) {
  try {
    await node.stop()
  } catch (err) {
    log('stop failed:', err?.stack ?? err)
  }
  process.exit(code)
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
lines.on('line', (line) => {
  if (line.trim() === '') {
    return
  }
  let command
  try {
    command = JSON.parse(line)
  } catch (err) {
    emit({ id: null, error: `not JSON: ${err.message}` })
    return
  }
  run(command).then(
    (result) => {
      emit({ id: command.id, result })
      if (command.cmd === 'stop') {
        process.exit(0)
      }
    },
    (err) => {
      log(`command ${command.cmd} failed:`, err?.stack ?? err)
      emit({ id: command.id, error: `${err?.name ?? 'Error'}: ${err?.message ?? err}` })
    })
})
lines.on('close', () => { shutdown(0) })

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => { shutdown(0) })
}

emit({
  event: 'ready',
  peerId: node.peerId.toString(),
  addrs: node.getMultiaddrs().map((a) => a.toString()),
  protocols: node.getProtocols()
})
