// worker_threads: the module loads in workers (Node-API, context aware);
// handles in several threads write one vault without losing anything.
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const { Worker } = require('node:worker_threads')

const { CredentialService, PASS, newVault } = require('./helpers')

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const { CredentialService } = require(workerData.module)
const svc = CredentialService.open({ path: workerData.file, passphrase: workerData.pass, keychain: false })
;(async () => {
  for (let i = 0; i < workerData.n; i++) {
    svc.store('w' + workerData.id + '.sync' + i, 'v' + i)
    await svc.storeAsync('w' + workerData.id + '.async' + i, 'a' + i)
  }
  parentPort.postMessage({ seen: svc.list().length, read: await svc.retrieveAsync('main.key') })
  // Left open on purpose: the worker's teardown must finalize it.
})()
`

function runWorker(workerData) {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { eval: true, workerData })
    let message
    w.on('message', (m) => (message = m))
    w.on('error', reject)
    w.on('exit', (code) => (code === 0 ? resolve(message) : reject(new Error(`worker exit ${code}`))))
  })
}

test('handles in worker threads and the main thread write one vault, nothing lost', async () => {
  const { file, svc } = newVault()
  svc.store('main.key', 'from-main')
  const n = 8
  const workers = [1, 2, 3, 4].map((id) => runWorker({ module: require.resolve('..'), file, pass: PASS, id, n }))
  const mainWrites = []
  for (let i = 0; i < n; i++) mainWrites.push(svc.storeAsync(`main.k${i}`, `m${i}`))
  const results = await Promise.all(workers)
  await Promise.all(mainWrites)
  for (const r of results) {
    assert.equal(r.read, 'from-main')
    assert.ok(r.seen >= 2 * n)
  }
  const keys = svc.list()
  assert.equal(keys.length, 1 + n + 4 * 2 * n)
  for (const id of [1, 2, 3, 4]) {
    for (let i = 0; i < n; i++) {
      assert.equal(svc.retrieve(`w${id}.sync${i}`), `v${i}`)
      assert.equal(svc.retrieve(`w${id}.async${i}`), `a${i}`)
    }
  }
  svc.close()
  // Everything written through the threads opens again.
  const again = CredentialService.open({ path: file, passphrase: PASS, keychain: false })
  assert.equal(again.list().length, keys.length)
  again.close()
})
