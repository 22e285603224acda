// Keyring modes: inside the private Secret Service
// (CREDVAULT_TEST_KEYRING=secret-service, scripts/with-secret-service.sh)
// the default open uses the OS keychain; without D-Bus
// (CREDVAULT_TEST_KEYRING=absent, scripts/without-dbus.sh) it falls back to
// the passphrase and never writes a plaintext anything.
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const { CredentialService, PASS, WEAK, keyringMode, caught, cli, tempDir } = require('./helpers')

test('keychain mode: a new vault gets a keychain slot and opens with no passphrase', { skip: keyringMode !== 'secret-service' && 'needs CREDVAULT_TEST_KEYRING=secret-service' }, () => {
  const file = path.join(tempDir(), 'kc.cvault')
  const svc = CredentialService.open({ path: file, create: true })
  const st = svc.status()
  assert.equal(st.backend, 'keychain')
  assert.deepEqual(st.backends, ['keychain', 'recovery'])
  assert.equal(st.unlocked_by, 'keychain')
  assert.ok(svc.takeRecoveryCode())
  svc.store('anthropic.apiKey', 'sk-ant-kc')
  svc.close()

  // Reopened by the keychain alone; the CLI opens it the same way.
  const again = CredentialService.open({ path: file })
  assert.equal(again.retrieve('anthropic.apiKey'), 'sk-ant-kc')
  assert.equal(again.status().unlocked_by, 'keychain')
  const r = cli(file, ['get', 'anthropic.apiKey'], { keychain: true, env: { CREDVAULT_PASSPHRASE: '' } })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, 'sk-ant-kc\n')
  again.close()
  // keychain: false and no passphrase: unlock.
  assert.equal(caught(() => CredentialService.open({ path: file, keychain: false })).code, 'unlock')

  // With a passphrase too: keychain + passphrase slots, and the
  // passphrase alone opens it (a portable vault).
  const both = path.join(tempDir(), 'both.cvault')
  CredentialService.open({ path: both, create: true, passphrase: PASS, kdf: WEAK }).close()
  const p = CredentialService.open({ path: both, keychain: false, passphrase: PASS })
  assert.deepEqual(p.status().backends, ['keychain', 'passphrase', 'recovery'])
  assert.equal(p.status().unlocked_by, 'passphrase')
  p.close()
})

test('passphrase mode without D-Bus: the keychain is skipped, a passphrase protects the vault', { skip: keyringMode !== 'absent' && 'needs CREDVAULT_TEST_KEYRING=absent' }, () => {
  const dir = tempDir()
  const file = path.join(dir, 'nodbus.cvault')
  // No keychain reachable and no passphrase: unlock, and nothing is created.
  const e = caught(() => CredentialService.open({ path: file, create: true, kdf: WEAK }))
  assert.equal(e.code, 'unlock')
  assert.match(e.message, /keychain/)
  assert.equal(fs.existsSync(file), false)
  // With a passphrase (keychain still allowed): a passphrase vault.
  const svc = CredentialService.open({ path: file, create: true, passphrase: PASS, kdf: WEAK })
  assert.equal(svc.status().backend, 'passphrase')
  assert.deepEqual(svc.status().backends, ['passphrase', 'recovery'])
  svc.store('github.token', 'no-dbus')
  svc.close()
  const again = CredentialService.open({ path: file, passphrase: PASS })
  assert.equal(again.retrieve('github.token'), 'no-dbus')
  again.close()
  // The file never holds the value in the clear.
  assert.equal(fs.readFileSync(file).includes(Buffer.from('no-dbus')), false)
})
