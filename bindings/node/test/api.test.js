// Every method of the API, sync and Promise twins, and the error codes.
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const { CredentialService, WEAK, PASS, caught, newVault, tempDir } = require('./helpers')

test('round trip of every method', () => {
  const { file, svc } = newVault()
  assert.equal(svc.isEncryptionAvailable(), true)
  const code = svc.takeRecoveryCode()
  assert.match(code, /\S{20,}/, 'a created vault hands out its recovery code')
  assert.equal(svc.takeRecoveryCode(), null, 'once')

  svc.store('postgresql.password', 'pg-s3cret')
  svc.store('github.token', 'gh')
  svc.store('github.refreshToken', 'ghr')
  svc.store('blob.bytes', Buffer.from([0, 0xff, 0x80, 10]))
  svc.store('unicode.value', 'Ünïcode ✓')
  assert.equal(svc.retrieve('postgresql.password'), 'pg-s3cret')
  assert.equal(svc.retrieve('unicode.value'), 'Ünïcode ✓')
  assert.equal(svc.retrieve('absent.key'), null)
  assert.deepEqual(svc.retrieveBuffer('blob.bytes'), Buffer.from([0, 0xff, 0x80, 10]))
  assert.deepEqual(svc.retrieveBuffer('github.token'), Buffer.from('gh'))
  assert.equal(svc.retrieveBuffer('absent.key'), null)
  assert.equal(svc.has('github.token'), true)
  assert.equal(svc.has('absent.key'), false)
  assert.deepEqual(svc.list(), ['blob.bytes', 'github.refreshToken', 'github.token', 'postgresql.password', 'unicode.value'])
  assert.deepEqual(svc.list('github.'), ['github.refreshToken', 'github.token'])
  assert.deepEqual(svc.list('none.'), [])
  svc.store('github.token', 'gh2')
  assert.equal(svc.retrieve('github.token'), 'gh2', 'store replaces')
  assert.equal(svc.delete('github.token'), true)
  assert.equal(svc.delete('github.token'), false)
  assert.equal(svc.has('github.token'), false)

  const st = svc.status()
  assert.equal(st.path, file)
  assert.equal(st.format_version, '1.0')
  assert.equal(st.encryption_available, true)
  assert.equal(st.backend, 'passphrase')
  assert.deepEqual(st.backends, ['passphrase', 'recovery'])
  assert.equal(st.unlocked, true)
  assert.equal(st.unlocked_by, 'passphrase')
  assert.equal(st.unlocked_by_slot, 1)
  assert.deepEqual(st.slots.map((s) => s.type), ['passphrase', 'recovery'])
  assert.equal(st.entries, 4)
  assert.equal(st.tombstones, 1)
  assert.ok(st.save_counter >= 7)
  assert.deepEqual(st.warnings, [])
  svc.close()

  // Reopened: the same values, no recovery code.
  const again = CredentialService.open({ path: file, passphrase: PASS, keychain: false })
  assert.equal(again.takeRecoveryCode(), null)
  assert.equal(again.retrieve('postgresql.password'), 'pg-s3cret')
  again.close()
})

test('Promise twins run off the main thread and give the same answers', async () => {
  const { file, svc } = newVault()
  await svc.storeAsync('openai.apiKey', 'sk-1')
  await svc.storeAsync('blob.x', Buffer.from([1, 2, 255]))
  assert.equal(await svc.retrieveAsync('openai.apiKey'), 'sk-1')
  assert.equal(await svc.retrieveAsync('absent.key'), null)
  assert.deepEqual(await svc.retrieveBufferAsync('blob.x'), Buffer.from([1, 2, 255]))
  assert.equal(await svc.hasAsync('openai.apiKey'), true)
  assert.deepEqual(await svc.listAsync(), ['blob.x', 'openai.apiKey'])
  assert.deepEqual(await svc.listAsync('openai.'), ['openai.apiKey'])
  assert.equal((await svc.statusAsync()).entries, 2)
  assert.equal(await svc.getWithFallbackAsync('openai.apiKey'), 'sk-1')
  process.env.CREDVAULT_NODE_TEST_VAR = 'from-env'
  const moved = await svc.migrateFromEnvAsync({ CREDVAULT_NODE_TEST_VAR: 'env.moved' })
  delete process.env.CREDVAULT_NODE_TEST_VAR
  assert.deepEqual(moved.map((m) => m.status), ['moved'])
  assert.equal(await svc.deleteAsync('openai.apiKey'), true)
  assert.equal(await svc.deleteAsync('openai.apiKey'), false)
  const report = await svc.importLegacyAsync({ path: path.join(tempDir(), 'missing.json') }).catch((e) => e)
  assert.equal(report.code, 'file_system')

  // Many at once on one handle: they queue on its lock, none is lost.
  await Promise.all(Array.from({ length: 20 }, (_, i) => svc.storeAsync(`many.k${i}`, `v${i}`)))
  assert.equal((await svc.listAsync('many.')).length, 20)
  svc.close()

  const opened = await CredentialService.openAsync({ path: file, passphrase: PASS, keychain: false })
  assert.equal(opened.retrieve('many.k7'), 'v7')
  const err = await CredentialService.openAsync({ path: file, passphrase: 'wrong', keychain: false }).catch((e) => e)
  assert.equal(err.code, 'unlock')
  await assert.rejects(opened.retrieveAsync('bad key!'), { code: 'usage' })
  opened.close()
  await assert.rejects(opened.retrieveAsync('many.k1'), { code: 'usage' })
})

test('errors carry the CLI kind as code and never a secret', () => {
  const dir = tempDir()
  const file = path.join(dir, 'v.cvault')
  // No vault and no create: file_system.
  let e = caught(() => CredentialService.open({ path: file, passphrase: PASS, keychain: false }))
  assert.ok(e instanceof Error)
  assert.equal(e.code, 'file_system')
  // Create without any credential (no keychain, no passphrase): unlock, nothing created.
  e = caught(() => CredentialService.open({ path: file, keychain: false, create: true, kdf: WEAK }))
  assert.equal(e.code, 'unlock')
  assert.equal(fs.existsSync(file), false)
  // An invalid KDF: usage.
  e = caught(() => CredentialService.open({ path: file, passphrase: PASS, keychain: false, create: true, kdf: { memoryMib: 0, iterations: 0, parallelism: 0 } }))
  assert.equal(e.code, 'usage')

  const svc = CredentialService.open({ path: file, passphrase: PASS, keychain: false, create: true, kdf: WEAK })
  svc.store('db.password', 'hunter2-secret-value')
  // Wrong passphrase: unlock, and the message holds neither passphrase.
  e = caught(() => CredentialService.open({ path: file, passphrase: 'wrong-passphrase-xyz', keychain: false }))
  assert.equal(e.code, 'unlock')
  assert.doesNotMatch(e.message, /wrong-passphrase-xyz|correct horse/)
  // Invalid key names: usage, for every method taking a key.
  for (const call of [() => svc.store('bad key', 'x'), () => svc.retrieve('bad..key'), () => svc.has(''), () => svc.delete('a b'), () => svc.retrieveBuffer('ä')]) {
    assert.equal(caught(call).code, 'usage')
  }
  // A value too large for the format: usage, and the value is not quoted.
  e = caught(() => svc.store('big.value', Buffer.alloc(5 * 1024 * 1024, 0x61)))
  assert.equal(e.code, 'usage')
  // A non-UTF-8 value through retrieve: usage (retrieveBuffer reads it).
  svc.store('bin.value', Buffer.from([0xff, 0xfe]))
  assert.equal(caught(() => svc.retrieve('bin.value')).code, 'usage')
  // A legacy config value that cannot be used: incomplete.
  const config = path.join(dir, 'config.json')
  fs.writeFileSync(config, JSON.stringify({ credentials: { 'x.y': 'enc:763130ffff' } }))
  e = caught(() => svc.getWithFallback('x.y', undefined, config))
  assert.equal(e.code, 'incomplete')
  svc.close()

  // Not a vault: unreadable.
  const junk = path.join(dir, 'junk.cvault')
  fs.writeFileSync(junk, 'this is not a vault at all, just text\n')
  e = caught(() => CredentialService.open({ path: junk, passphrase: PASS, keychain: false }))
  assert.equal(e.code, 'unreadable')
  // Tampered: unreadable or unlock (the format's one class), never a crash.
  const bytes = fs.readFileSync(file)
  bytes[bytes.length - 5] ^= 1
  const tampered = path.join(dir, 'tampered.cvault')
  fs.writeFileSync(tampered, bytes)
  e = caught(() => CredentialService.open({ path: tampered, passphrase: PASS, keychain: false }))
  assert.ok(['unreadable', 'unlock'].includes(e.code), e.code)
  assert.doesNotMatch(e.message, /hunter2/)
})

test('the default path is CREDVAULT_VAULT, as for the CLI', () => {
  const dir = tempDir()
  const file = path.join(dir, 'env.cvault')
  const before = process.env.CREDVAULT_VAULT
  process.env.CREDVAULT_VAULT = file
  try {
    const svc = CredentialService.open({ passphrase: PASS, keychain: false, create: true, kdf: WEAK })
    assert.equal(svc.status().path, file)
    svc.close()
    assert.ok(fs.existsSync(file))
  } finally {
    if (before === undefined) delete process.env.CREDVAULT_VAULT
    else process.env.CREDVAULT_VAULT = before
  }
})

test('close, and garbage collection of open handles', async () => {
  const { file, svc } = newVault()
  svc.store('a.b', 'v')
  svc.close()
  svc.close() // twice is harmless
  for (const call of [() => svc.retrieve('a.b'), () => svc.store('a.b', 'x'), () => svc.list(), () => svc.status()]) {
    const e = caught(call)
    assert.equal(e.code, 'usage')
    assert.match(e.message, /closed/)
  }
  assert.equal(svc.isEncryptionAvailable(), true)

  // Handles dropped without close are finalized by the GC; the vault stays
  // intact and writable by the handles left.
  const v8 = require('node:v8')
  const vm = require('node:vm')
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc')
  const finalized = []
  const registry = new FinalizationRegistry((i) => finalized.push(i))
  for (let i = 0; i < 20; i++) {
    let h = CredentialService.open({ path: file, passphrase: PASS, keychain: false })
    h.store(`gc.k${i}`, `v${i}`)
    registry.register(h, i)
    h = null
  }
  for (let i = 0; i < 10 && finalized.length < 20; i++) {
    gc()
    await new Promise((r) => setTimeout(r, 20))
  }
  assert.ok(finalized.length > 0, 'the GC finalized dropped handles')
  const last = CredentialService.open({ path: file, passphrase: PASS, keychain: false })
  assert.equal(last.list('gc.').length, 20)
  last.store('after.gc', 'ok')
  assert.equal(last.retrieve('after.gc'), 'ok')
  last.close()
})
