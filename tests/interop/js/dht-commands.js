// kad-dht and discovery commands for peer.js (added for the DHT/mDNS interop tests).
//   provide {cid}                  -> {}
//   findProviders {cid, wanted?}   -> {providers: [{peerId, addrs}]}
//   put {key (utf8), valueHex}     -> {}
//   get {key (utf8)}               -> {valueHex}   (error if no value)
//   findPeer {peerId}              -> {peerId, addrs}
//   closestPeers {keyHex}          -> {peers: [peerId]}
//   routingTable {peerId?}         -> {size, contains}
//   discovered                     -> {peers: [{peerId, addrs}]}   (peer:discovery events so far, e.g. from mDNS)
import { CID } from 'multiformats/cid'
import { peerIdFromString } from '@libp2p/peer-id'

const describePeer = (info) => ({ peerId: info.id.toString(), addrs: (info.multiaddrs ?? []).map((a) => a.toString()) })

export function dhtCommands (node) {
  const discovered = new Map()
  node.addEventListener('peer:discovery', (evt) => discovered.set(evt.detail.id.toString(), describePeer(evt.detail)))
  const dht = () => {
    if (node.services.dht == null) {
      throw new Error('the peer runs without kad-dht (--no-dht)')
    }
    return node.services.dht
  }

  return {
    async provide (command, signal) {
      for await (const event of dht().provide(CID.parse(command.cid), { signal })) {
        void event
      }
      return {}
    },

    async findProviders (command, signal) {
      const wanted = command.wanted ?? 1
      const providers = new Map()
      for await (const event of dht().findProviders(CID.parse(command.cid), { signal })) {
        if (event.name === 'PROVIDER') {
          for (const provider of event.providers) {
            providers.set(provider.id.toString(), describePeer(provider))
          }
          if (providers.size >= wanted) {
            break
          }
        }
      }
      return { providers: [...providers.values()] }
    },

    async put (command, signal) {
      const key = new TextEncoder().encode(command.key)
      for await (const event of dht().put(key, Uint8Array.from(Buffer.from(command.valueHex, 'hex')), { signal })) {
        void event
      }
      return {}
    },

    async get (command, signal) {
      const key = new TextEncoder().encode(command.key)
      for await (const event of dht().get(key, { signal })) {
        if (event.name === 'VALUE') {
          return { valueHex: Buffer.from(event.value).toString('hex'), from: event.from.toString() }
        }
      }
      throw new Error(`no value for ${command.key}`)
    },

    async findPeer (command, signal) {
      for await (const event of dht().findPeer(peerIdFromString(command.peerId), { signal })) {
        if (event.name === 'FINAL_PEER') {
          return describePeer(event.peer)
        }
      }
      throw new Error(`peer ${command.peerId} not found`)
    },

    async closestPeers (command, signal) {
      const peers = []
      for await (const event of dht().getClosestPeers(Uint8Array.from(Buffer.from(command.keyHex, 'hex')), { signal })) {
        if (event.name === 'FINAL_PEER') {
          peers.push(event.peer.id.toString())
        }
      }
      return { peers }
    },

    async routingTable (command) {
      const table = dht().routingTable
      const contains = command.peerId == null ? null : (await table.find(peerIdFromString(command.peerId))) != null
      return { size: table.size, contains }
    },

    async discovered () {
      return { peers: [...discovered.values()] }
    }
  }
}
