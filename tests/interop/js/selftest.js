// js <-> js check of the test peer itself: `node selftest.js`. Exits non-zero on the first failure.
import './polyfill.js'
import assert from 'node:assert/strict'
import { startPeer } from './control.js'

const MiB = 1024 * 1024
const a = await startPeer()
const b = await startPeer()
try {
  const target = b.addrs[0]

  const pinged = await a.command('ping', { addr: target, count: 10 })
  assert.equal(pinged.rtts.length, 10)
  console.log(`ping a->b: median ${pinged.median.toFixed(3)} ms`)

  const servicePing = await b.command('ping', { addr: a.addrs[0], count: 3, newStreamEach: true })
  assert.equal(servicePing.rtts.length, 3)

  const id = await a.command('identify', { addr: target })
  assert.equal(id.peerId, b.peerId)
  assert.ok(id.protocols.includes('/ipfs/id/1.0.0') && id.protocols.includes('/ipfs/ping/1.0.0'))
  assert.ok(id.protocols.includes('/p2pswarm/echo/1.0.0'))
  assert.ok(id.listenAddrs.length > 0)
  assert.match(id.agentVersion, /js-libp2p/)
  assert.match(id.publicKey, /^08011220[0-9a-f]{64}$/)
  console.log(`identify a->b: ${id.agentVersion}, protocols ${id.protocols.join(' ')}, key ${id.publicKey}`)

  const echo = await a.command('echo', { addr: target, bytes: 16 * MiB })
  console.log(`echo 16 MiB a->b: ${echo.ms.toFixed(0)} ms`)
  const echoBack = await b.command('echo', { addr: a.addrs[0], bytes: 16 * MiB })
  console.log(`echo 16 MiB b->a: ${echoBack.ms.toFixed(0)} ms`)

  const streams = await a.command('streams', { addr: target, count: 100, bytes: 64 * 1024 })
  assert.equal(streams.openStreams, 100)
  console.log(`100 concurrent streams a->b: ${streams.ms.toFixed(0)} ms`)

  const sink = await a.command('sink', { addr: target, bytes: 64 * MiB })
  console.log(`sink 64 MiB a->b: ${sink.mibPerSecond.toFixed(1)} MiB/s`)

  await assert.rejects(a.command('echo', { addr: target, protocol: '/nobody/1.0.0' }))
  await assert.rejects(a.command('no-such-command'))
  const peers = await a.command('peers')
  assert.equal(peers.length, 1)
  console.log('selftest ok')
} finally {
  await a.stop()
  await b.stop()
}
