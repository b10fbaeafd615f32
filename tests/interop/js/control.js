// Starts peer.js as a child process and sends it commands: the js twin of the C# JsPeer fixture,
// used by selftest.js and bench/interop.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const here = dirname(fileURLToPath(import.meta.url))

export async function startPeer (args = []) {
  const child = spawn(process.execPath, [join(here, 'peer.js'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-16_384) })
  const pending = new Map()
  let nextId = 1
  const ready = Promise.withResolvers()
  const exited = Promise.withResolvers()

  createInterface({ input: child.stdout }).on('line', (line) => {
    const message = JSON.parse(line)
    if (message.event === 'ready') {
      ready.resolve(message)
      return
    }
    const waiter = pending.get(message.id)
    pending.delete(message.id)
    if (message.error != null) {
      waiter?.reject(new Error(message.error))
    } else {
      waiter?.resolve(message.result)
    }
  })
  child.on('exit', (code) => {
    const err = new Error(`peer.js exited with ${code}; stderr:\n${stderr}`)
    ready.reject(err)
    for (const waiter of pending.values()) {
      waiter.reject(err)
    }
    pending.clear()
    exited.resolve(code)
  })

  const info = await ready.promise
  return {
    ...info,
    pid: child.pid,
    command (cmd, args = {}) {
      const id = nextId++
      const waiter = Promise.withResolvers()
      pending.set(id, waiter)
      child.stdin.write(JSON.stringify({ id, cmd, ...args }) + '\n')
      return waiter.promise
    },
    async stop () {
      child.stdin.end()
      await exited.promise
    }
  }
}
