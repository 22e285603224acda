// The app's migration procedures: migrateFromEnv, getWithFallback's order,
// and importLegacy of a credentials.json whose enc: values a real Chromium
// encrypted (spec/legacy/oscrypt-blobs.json).
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const { ROOT, keyringMode, caught, cli, newVault } = require('./helpers')

const vectors = JSON.parse(fs.readFileSync(path.join(ROOT, 'spec', 'legacy', 'oscrypt-blobs.json'), 'utf8'))
const V11_PASSWORD = vectors.keyrings['gnome-libsecret'].password

/** A credentials.json as the app writes it: its keys as Chromium v11
 * (keyring) values, the same under legacy.v10.* as v10 (no keyring) values,
 * and plain: values; and what each key must hold after an import. */
function mixed() {
  const credentials = {}
  const want = {}
  for (const v of vectors.vectors) {
    const key = { 'gnome-libsecret': v.name, basic: `legacy.v10.${v.name}` }[v.keyring]
    if (!key) continue
    credentials[key] = `enc:${v.blob}`
    want[key] = v.plaintext
  }
  for (const [key, value] of [['mcp.server.token', 'mcp-plain-token'], ['github.accessToken', 'gho_Ünïcode_✓'], ['github.refreshTokenOld', '']]) {
    credentials[key] = `plain:${Buffer.from(value).toString('hex')}`
    want[key] = value
  }
  return { file: { credentials, encryptionAvailable: true }, want }
}

function writeJson(dir, name, value) {
  const file = path.join(dir, name)
  fs.writeFileSync(file, JSON.stringify(value, null, 2))
  return file
}

test('importLegacy: real Chromium v10 and v11 values and plain ones, verified, one save', () => {
  const { dir, file, svc } = newVault()
  const { file: legacy, want } = mixed()
  const json = writeJson(dir, 'credentials.json', legacy)
  const before = svc.status().save_counter

  const dry = svc.importLegacy({ path: json, dryRun: true, safeStoragePassword: V11_PASSWORD })
  assert.equal(dry.dry_run, true)
  assert.equal(dry.imported, Object.keys(want).length)
  assert.equal(svc.list().length, 0, 'a dry run changes nothing')

  const report = svc.importLegacy({ path: json, safeStoragePassword: V11_PASSWORD })
  assert.equal(report.failed, 0, JSON.stringify(report.items.filter((i) => i.status === 'failed')))
  assert.equal(report.imported, Object.keys(want).length)
  assert.equal(report.verified, true)
  assert.equal(report.removed_legacy, false)
  assert.equal(svc.status().save_counter, before + 1, 'one save')
  const sources = Object.fromEntries(report.items.map((i) => [i.key, i.source]))
  assert.equal(sources['postgresql.password'], 'enc:v11')
  assert.equal(sources['legacy.v10.postgresql.password'], 'enc:v10')
  assert.equal(sources['mcp.server.token'], 'plain')
  for (const [key, value] of Object.entries(want)) {
    assert.equal(svc.retrieve(key), value, key)
  }
  assert.doesNotMatch(JSON.stringify(report), /correct horse|sk-ant-api03/)
  // The CLI reads what the app imported.
  assert.equal(cli(file, ['get', 'test.unicode']).stdout, want['test.unicode'] + '\n')

  // Again: everything unchanged, nothing saved; then removal of the file.
  const counter = svc.status().save_counter
  const again = svc.importLegacy({ path: json, safeStoragePassword: V11_PASSWORD, removeLegacy: true })
  assert.equal(again.unchanged, Object.keys(want).length)
  assert.equal(again.removed_legacy, true)
  assert.equal(fs.existsSync(json), false)
  assert.equal(svc.status().save_counter, counter)
  svc.close()
})

test('importLegacy: v11 without its key fails per key, the rest is saved, the file is kept', () => {
  const { dir, svc } = newVault()
  const { file: legacy, want } = mixed()
  const json = writeJson(dir, 'credentials.json', legacy)
  // No password given and no OS keyring asked (keychain: false).
  const report = svc.importLegacy({ path: json, removeLegacy: true })
  const v11 = vectors.vectors.filter((v) => v.keyring === 'gnome-libsecret').length
  assert.equal(report.failed, v11)
  assert.equal(report.imported, Object.keys(want).length - v11)
  assert.equal(report.removed_legacy, false)
  assert.ok(fs.existsSync(json))
  assert.equal(svc.retrieve('legacy.v10.github.token'), want['legacy.v10.github.token'])
  assert.equal(svc.retrieve('github.token'), null)
  for (const item of report.items.filter((i) => i.status === 'failed')) assert.ok(item.reason)
  // A file that is not a credentials.json: incomplete; a missing one: file_system.
  const junk = writeJson(dir, 'junk.json', [1, 2, 3])
  assert.equal(caught(() => svc.importLegacy({ path: junk })).code, 'incomplete')
  assert.equal(caught(() => svc.importLegacy({ path: path.join(dir, 'none.json') })).code, 'file_system')
  svc.close()
})

test('importLegacy finds the v11 password in a real Secret Service', { skip: keyringMode !== 'secret-service' && 'needs CREDVAULT_TEST_KEYRING=secret-service' }, () => {
  // What the app's Electron leaves in the keyring.
  const r = spawnSync('secret-tool', ['store', '--label=claude-pilot Safe Storage', 'xdg:schema', 'chrome_libsecret_os_crypt_password_v2', 'application', 'claude-pilot'], { input: V11_PASSWORD })
  assert.equal(r.status, 0, String(r.stderr))
  const { dir, svc } = newVault({ keychain: true })
  const { file: legacy, want } = mixed()
  const json = writeJson(dir, 'credentials.json', legacy)
  const report = svc.importLegacy({ path: json })
  assert.equal(report.failed, 0, JSON.stringify(report.items.filter((i) => i.status === 'failed')))
  assert.equal(svc.retrieve('openai.apiKey'), want['openai.apiKey'])
  // Another app name finds no item.
  const other = newVault({ keychain: true })
  const miss = other.svc.importLegacy({ path: json, appName: 'not-installed' })
  assert.ok(miss.failed > 0)
  other.svc.close()
  svc.close()
})

test('migrateFromEnv: set variables in one save, the vault value kept, report per variable', () => {
  const { svc } = newVault()
  svc.store('github.token', 'vault-wins')
  svc.store('qdrant.apiKey', 'same')
  const before = svc.status().save_counter
  const env = { CV_T_PG: 'pg', CV_T_ANT: 'sk-ant', CV_T_EMPTY: '', CV_T_GH: 'env-token', CV_T_QD: 'same', CV_T_BAD: 'x' }
  Object.assign(process.env, env)
  try {
    const map = { CV_T_PG: 'postgresql.password', CV_T_ANT: 'anthropic.apiKey', CV_T_EMPTY: 'openai.apiKey', CV_T_GH: 'github.token', CV_T_QD: 'qdrant.apiKey', CV_T_UNSET: 'memgraph.password', CV_T_BAD: 'bad key' }
    const items = svc.migrateFromEnv(map)
    assert.deepEqual(items.map((i) => [i.var, i.key, i.status]), [
      ['CV_T_PG', 'postgresql.password', 'moved'],
      ['CV_T_ANT', 'anthropic.apiKey', 'moved'],
      ['CV_T_EMPTY', 'openai.apiKey', 'unset'],
      ['CV_T_GH', 'github.token', 'kept'],
      ['CV_T_QD', 'qdrant.apiKey', 'unchanged'],
      ['CV_T_UNSET', 'memgraph.password', 'unset'],
      ['CV_T_BAD', 'bad key', 'failed'],
    ])
    assert.ok(items[3].reason && items[6].reason)
    assert.doesNotMatch(JSON.stringify(items), /sk-ant|env-token/)
    assert.equal(svc.status().save_counter, before + 1, 'one save')
    assert.equal(svc.retrieve('postgresql.password'), 'pg')
    assert.equal(svc.retrieve('github.token'), 'vault-wins')
    // Again: nothing moves, no save.
    const counter = svc.status().save_counter
    assert.ok(svc.migrateFromEnv(map).every((i) => i.status !== 'moved'))
    assert.equal(svc.status().save_counter, counter)
    assert.equal(caught(() => svc.migrateFromEnv({ CV_T_PG: 42 })).code, 'usage')
  } finally {
    for (const k of Object.keys(env)) delete process.env[k]
  }
  svc.close()
})

test('getWithFallback: the vault, then the environment, then the legacy config file', () => {
  const { dir, svc } = newVault()
  const v10 = vectors.vectors.find((v) => v.keyring === 'basic' && v.name === 'openai.apiKey')
  const config = writeJson(dir, 'config.json', {
    credentials: { 'github.token': `plain:${Buffer.from('from-credentials').toString('hex')}`, 'openai.apiKey': `enc:${v10.blob}` },
    'anthropic.apiKey': 'flat',
    postgresql: { password: 'nested', port: 5432 },
  })
  process.env.CV_T_PGPASSWORD = 'from-env'
  try {
    // Environment before config; config when the variable is unset.
    assert.equal(svc.getWithFallback('postgresql.password', 'CV_T_PGPASSWORD', config), 'from-env')
    assert.equal(svc.getWithFallback('postgresql.password', 'CV_T_UNSET', config), 'nested')
    assert.equal(svc.getWithFallback('github.token', undefined, config), 'from-credentials')
    assert.equal(svc.getWithFallback('openai.apiKey', null, config), v10.plaintext)
    assert.equal(svc.getWithFallback('anthropic.apiKey', undefined, config), 'flat')
    assert.equal(svc.getWithFallback('qdrant.apiKey', 'CV_T_UNSET', config), null)
    assert.equal(svc.getWithFallback('qdrant.apiKey'), null)
    assert.equal(caught(() => svc.getWithFallback('postgresql.port', undefined, config)).code, 'incomplete')
    assert.equal(caught(() => svc.getWithFallback('x.y', undefined, path.join(dir, 'missing.json'))).code, 'file_system')
    // The vault first.
    svc.store('postgresql.password', 'vault')
    assert.equal(svc.getWithFallback('postgresql.password', 'CV_T_PGPASSWORD', config), 'vault')
    // The config file is per call: not consulted afterwards.
    assert.equal(svc.getWithFallback('anthropic.apiKey'), null)
  } finally {
    delete process.env.CV_T_PGPASSWORD
  }
  svc.close()
})
