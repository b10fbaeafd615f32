// Stream helpers shared by the test peer's protocol handlers and its commands.
// js-libp2p 3.x streams are message streams: `send()` returns false when the muxer wants us to wait
// for 'drain', and async iteration ends when the remote closes its write side.
import { randomBytes } from 'node:crypto'

export const ECHO_PROTOCOL = '/p2pswarm/echo/1.0.0'
export const SINK_PROTOCOL = '/p2pswarm/sink/1.0.0'
export const PING_PROTOCOL = '/ipfs/ping/1.0.0'
export const PING_LENGTH = 32

const SEND_CHUNK = 64 * 1024

/** Writes `data` in chunks, respecting the muxer's backpressure. Does not close the stream. */
export async function sendAll (stream, data, options) {
  for (let offset = 0; offset < data.byteLength; offset += SEND_CHUNK) {
    if (!stream.send(data.subarray(offset, Math.min(offset + SEND_CHUNK, data.byteLength)))) {
      await stream.onDrain(options)
    }
  }
}

/** Writes `total` bytes by repeating `block`; used for throughput so that generating data costs nothing. */
export async function sendRepeated (stream, block, total, options) {
  let sent = 0
  while (sent < total) {
    const n = Math.min(block.byteLength, total - sent)
    if (!stream.send(block.subarray(0, n))) {
      await stream.onDrain(options)
    }
    sent += n
  }
}

/** Converts what a stream yields (Uint8Array or Uint8ArrayList) to one Uint8Array view. */
export function toBytes (buf) {
  return buf instanceof Uint8Array ? buf : buf.subarray()
}

/** Echo handler: every byte back until the remote closes its write side, then close ours. */
export async function handleEcho (stream) {
  try {
    for await (const buf of stream) {
      if (!stream.send(buf)) {
        await stream.onDrain()
      }
    }
    await stream.close()
  } catch (err) {
    stream.abort(err)
  }
}

/** Sink handler: read everything, then reply with the byte count as one text line. */
export async function handleSink (stream) {
  try {
    let count = 0
    for await (const buf of stream) {
      count += buf.byteLength
    }
    stream.send(new TextEncoder().encode(`${count}\n`))
    await stream.close()
  } catch (err) {
    stream.abort(err)
  }
}

/**
 * Sends `bytes` random bytes on an echo stream while reading the echo concurrently, and checks every
 * byte. Returns the elapsed milliseconds.
 */
export async function echoOver (stream, bytes, options) {
  const data = randomBytes(bytes)
  const start = performance.now()
  const reading = (async () => {
    let received = 0
    for await (const buf of stream) {
      const chunk = toBytes(buf)
      if (received + chunk.byteLength > data.byteLength) {
        throw new Error(`echo returned more bytes than sent (${received + chunk.byteLength} > ${data.byteLength})`)
      }
      if (Buffer.compare(chunk, data.subarray(received, received + chunk.byteLength)) !== 0) {
        throw new Error(`echo mismatch in bytes ${received}..${received + chunk.byteLength}`)
      }
      received += chunk.byteLength
    }
    if (received !== data.byteLength) {
      throw new Error(`echo returned ${received} of ${data.byteLength} bytes before closing`)
    }
  })()
  try {
    await sendAll(stream, data, options)
    await stream.close(options)
  } catch (err) {
    stream.abort(err)
    await reading.catch(() => {})
    throw err
  }
  await reading
  return performance.now() - start
}

/** Pushes `bytes` through a sink stream and returns { ms, reported } where reported is the remote's count. */
export async function sinkOver (stream, bytes, options) {
  const block = randomBytes(1024 * 1024)
  const start = performance.now()
  const reading = (async () => {
    let text = ''
    for await (const buf of stream) {
      text += new TextDecoder().decode(toBytes(buf))
    }
    return text
  })()
  try {
    await sendRepeated(stream, block, bytes, options)
    await stream.close(options)
  } catch (err) {
    stream.abort(err)
    await reading.catch(() => {})
    throw err
  }
  const reply = await reading
  const ms = performance.now() - start
  const reported = Number.parseInt(reply.trim(), 10)
  if (reported !== bytes) {
    throw new Error(`sink counted ${JSON.stringify(reply.trim())} bytes, sent ${bytes}`)
  }
  return { ms, reported }
}

/**
 * Runs `count` ping round trips (32 random bytes each) on one /ipfs/ping/1.0.0 stream, timed with the
 * high-resolution clock (libp2p's own ping() reports whole milliseconds). The first `warmup` rounds
 * are not reported.
 */
export async function pingOver (stream, count, warmup, options) {
  const iterator = stream[Symbol.asyncIterator]()
  let pending = new Uint8Array(0)
  const readExactly = async (n) => {
    while (pending.byteLength < n) {
      const next = await iterator.next()
      if (next.done === true) {
        throw new Error(`ping stream ended after ${pending.byteLength} of ${n} bytes`)
      }
      pending = Buffer.concat([pending, toBytes(next.value)])
    }
    const out = pending.subarray(0, n)
    pending = pending.subarray(n)
    return out
  }
  const rtts = []
  try {
    for (let i = 0; i < warmup + count; i++) {
      const payload = randomBytes(PING_LENGTH)
      const start = performance.now()
      if (!stream.send(payload)) {
        await stream.onDrain(options)
      }
      const pong = await readExactly(PING_LENGTH)
      const rtt = performance.now() - start
      if (Buffer.compare(pong, payload) !== 0) {
        throw new Error(`ping ${i}: wrong payload echoed`)
      }
      if (i >= warmup) {
        rtts.push(rtt)
      }
    }
    await stream.close(options)
    await iterator.return?.()
  } catch (err) {
    stream.abort(err)
    throw err
  }
  return rtts
}

export function summarize (values) {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
  return {
    count: sorted.length,
    min: sorted[0],
    median: sorted.length % 2 === 1
      ? sorted[(sorted.length - 1) / 2]
      : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2,
    p90: at(0.9),
    max: sorted[sorted.length - 1]
  }
}
