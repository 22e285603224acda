// syncPass on the real pass and gpg, and the OAuth token manager
// (getValidToken, refreshToken, isTokenExpired, revokeToken) on tokens in
// the vault, with a real refused connection for the network failure.
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const { caught, newVault, tempDir } = require('./helpers')

function run(cmd, args, input) {
  const r = spawnSync(cmd, args, { input: input ?? '', encoding: 'utf8', env: process.env })
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

test('syncPass: both ways with the real pass and gpg', () => {
  const dir = tempDir()
  process.env.GNUPGHOME = path.join(dir, 'gnupg')
  process.env.PASSWORD_STORE_DIR = path.join(dir, 'store')
  fs.mkdirSync(process.env.GNUPGHOME, { mode: 0o700 })
  try {
    run('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', 'node@example.org', 'default', 'default', 'never'])
    run('pass', ['init', 'node@example.org'])
    run('pass', ['insert', '-m', 'claude/github/token'], 'ghp_from_pass\n')

    const { svc } = newVault()
    svc.store('anthropic.apiKey', 'sk-from-vault')
    const dry = svc.syncPass({ dryRun: true })
    assert.equal(dry.dry_run, true)
    assert.equal(svc.has('github.token'), false, 'a dry run changes nothing')

    const report = svc.syncPass()
    const status = Object.fromEntries(report.items.map((i) => [i.key, i.status]))
    assert.equal(status['github.token'], 'imported')
    assert.equal(status['anthropic.apiKey'], 'exported')
    assert.equal(svc.retrieve('github.token'), 'ghp_from_pass')
    assert.equal(run('pass', ['show', 'claude/anthropic/apiKey']), 'sk-from-vault\n')

    // A change on one side travels; an unchanged one is left alone.
    run('pass', ['insert', '-m', '-f', 'claude/github/token'], 'ghp_rotated\n')
    const again = svc.syncPass({ prefer: 'pass' })
    assert.equal(again.items.find((i) => i.key === 'github.token').status, 'imported')
    assert.equal(svc.retrieve('github.token'), 'ghp_rotated')
    assert.equal(caught(() => svc.syncPass({ prefer: 'nobody' })).code, 'usage')
  } finally {
    spawnSync('gpgconf', ['--kill', 'gpg-agent'], { env: process.env })
    delete process.env.GNUPGHOME
    delete process.env.PASSWORD_STORE_DIR
  }
})

/** Stores login `name` as `credvault oauth login` leaves it, with a token
 *  endpoint where nothing listens (a real refused connection). */
function seedLogin(svc, name, expiresInMs, revocation = true) {
  svc.store(`${name}.accessToken`, `at-${name}`)
  svc.store(`${name}.refreshToken`, `rt-${name}`)
  svc.store(`${name}.tokenExpiry`, String(Date.now() + expiresInMs))
  svc.store(
    `${name}.oauthClient`,
    JSON.stringify({
      version: 1,
      provider: 'oidc',
      issuer: 'https://127.0.0.1:9',
      token_endpoint: 'https://127.0.0.1:9/token',
      revocation_endpoint: revocation ? 'https://127.0.0.1:9/revoke' : null,
      client_id: 'node-test',
      scopes: ['openid'],
      ca_pems: [],
      needs_login: false,
      grant: 'authorization_code',
      logged_in_ms: Date.now(),
    }),
  )
}

test('the OAuth token manager on tokens in the vault', async () => {
  const { svc } = newVault()
  seedLogin(svc, 'work', 3600_000)
  // Plenty of time left: the stored token, no network.
  assert.equal(svc.getValidToken('work'), 'at-work')
  assert.equal(await svc.getValidTokenAsync('work'), 'at-work')
  assert.equal(svc.isTokenExpired('work'), false)
  assert.equal(svc.isTokenExpired('work', 7200), true, 'less than two hours left')
  // Due for a refresh, server unreachable: the token still has time left.
  assert.equal(svc.getValidToken('work', { minValidSeconds: 7200 }), 'at-work')
  // After a 401 the current token is no use: a refused refresh is `network`.
  assert.equal(caught(() => svc.getValidToken('work', { rejected: true })).code, 'network')
  assert.equal(caught(() => svc.refreshToken('work')).code, 'network')

  seedLogin(svc, 'stale', -1000)
  assert.equal(svc.isTokenExpired('stale'), true)
  assert.equal(caught(() => svc.getValidToken('stale')).code, 'network')

  assert.equal(caught(() => svc.getValidToken('nobody')).code, 'not_found')
  assert.equal(caught(() => svc.getValidToken('bad name!')).code, 'usage')
  // Revocation needs the server; unreachable, the tokens stay.
  assert.equal(caught(() => svc.revokeToken('work')).code, 'network')
  assert.equal(svc.has('work.accessToken'), true)
  // A provider without a revocation endpoint: the entries go, and it says so.
  seedLogin(svc, 'norevoke', 3600_000, false)
  assert.deepEqual(svc.revokeToken('norevoke'), { atServer: false })
  assert.equal(svc.has('norevoke.accessToken'), false)
})
