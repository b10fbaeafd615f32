// js-libp2p 3.x calls Promise.withResolvers (Node >= 22); this machine runs Node 20.
// Imported first by every script here so that it is installed before any libp2p module evaluates.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve
    let reject
    const promise = new this((res, rej) => {
      resolve = res
      reject = rej
    })
    return { promise, resolve, reject }
  }
}
