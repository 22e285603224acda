// Beside the CLI: one vault, two kinds of writers, nothing lost; the app's
// vault opens in the CLI and the reverse; the audit log has both.
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const { CredentialService, PASS, cli, cliAsync, newVault, tempDir } = require('./helpers')

test('a vault written by the app opens in the CLI, and the reverse', () => {
  const { file, svc } = newVault()
  svc.store('postgresql.password', 'from-node')
  svc.store('bin.value', Buffer.from([0xde, 0xad, 0xbe, 0xef]))
  const code = svc.takeRecoveryCode()
  let r = cli(file, ['get', 'postgresql.password'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, 'from-node\n')
  r = cli(file, ['--json', 'get', 'bin.value'])
  assert.equal(JSON.parse(r.stdout).value_base64, Buffer.from([0xde, 0xad, 0xbe, 0xef]).toString('base64'))
  r = cli(file, ['verify'])
  assert.equal(r.code, 0, r.stderr)
  // The recovery code handed out by open({create}) opens it in the CLI.
  r = cli(file, ['get', 'postgresql.password'], { env: { CREDVAULT_PASSPHRASE: '', CREDVAULT_RECOVERY: code } })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, 'from-node\n')
  svc.close()

  // The reverse: made by `credvault init`, written by `set`, read by Node.
  const dir = tempDir()
  const other = path.join(dir, 'cli.cvault')
  r = cli(other, ['init', '--no-recovery', '--kdf-memory-mib', '8', '--kdf-iterations', '1', '--kdf-parallelism', '1'])
  assert.equal(r.code, 0, r.stderr)
  r = cli(other, ['set', 'github.token'], { input: 'from-cli\n' })
  assert.equal(r.code, 0, r.stderr)
  const node = CredentialService.open({ path: other, passphrase: PASS, keychain: false })
  assert.equal(node.retrieve('github.token'), 'from-cli')
  node.store('github.token', 'from-node-again')
  assert.equal(cli(other, ['get', 'github.token']).stdout, 'from-node-again\n')
  node.close()
})

test("another process's writes are visible to the next read of an open handle", () => {
  const { file, svc } = newVault()
  svc.store('a.one', '1')
  assert.deepEqual(svc.list(), ['a.one'])
  // The CLI writes while the handle stays open.
  assert.equal(cli(file, ['set', 'a.two'], { input: '2' }).code, 0)
  assert.equal(svc.retrieve('a.two'), '2')
  assert.equal(svc.has('a.two'), true)
  assert.deepEqual(svc.list(), ['a.one', 'a.two'])
  assert.equal(cli(file, ['rm', 'a.one']).code, 0)
  assert.equal(svc.retrieve('a.one'), null)
  assert.equal(svc.has('a.one'), false)
  assert.equal(cli(file, ['set', 'a.two'], { input: 'changed' }).code, 0)
  assert.equal(svc.retrieve('a.two'), 'changed')
  // A second handle (a second app instance) alike.
  const second = CredentialService.open({ path: file, passphrase: PASS, keychain: false })
  second.store('a.three', '3')
  assert.equal(svc.retrieve('a.three'), '3')
  assert.equal(svc.status().entries, 2)
  // The handle's own write followed by another's: both seen.
  svc.store('a.four', '4')
  second.store('a.five', '5')
  assert.deepEqual(svc.list(), ['a.five', 'a.four', 'a.three', 'a.two'])
  second.close()
  svc.close()
})

test('concurrent CLI and Node writers: no lost update', async () => {
  const { file, svc } = newVault()
  const N = 12
  // CLI processes and the Node handle (sync and async) write at the same
  // time, each its own keys, plus everyone rewriting one shared key.
  const cliWrites = Array.from({ length: N }, (_, i) => cliAsync(file, ['set', `cli.k${i}`], { input: `c${i}` }))
  const nodeWrites = []
  for (let i = 0; i < N; i++) {
    svc.store(`node.sync${i}`, `s${i}`)
    nodeWrites.push(svc.storeAsync(`node.async${i}`, `a${i}`))
  }
  const results = await Promise.all(cliWrites)
  await Promise.all(nodeWrites)
  for (const r of results) assert.equal(r.code, 0, r.stderr)
  const keys = svc.list()
  for (let i = 0; i < N; i++) {
    assert.ok(keys.includes(`cli.k${i}`), `cli.k${i} lost`)
    assert.ok(keys.includes(`node.sync${i}`), `node.sync${i} lost`)
    assert.ok(keys.includes(`node.async${i}`), `node.async${i} lost`)
    assert.equal(svc.retrieve(`cli.k${i}`), `c${i}`)
  }
  assert.equal(keys.length, 3 * N)
  // And the CLI sees every one of them.
  const listed = cli(file, ['ls']).stdout.trim().split('\n')
  assert.deepEqual(listed, keys)
  svc.close()
})

test("the audit log records the app's operations as it records the CLI's", () => {
  const { file, svc } = newVault()
  svc.store('github.token', 'audit-secret-value')
  svc.retrieve('github.token')
  svc.has('github.token')
  svc.list('github.')
  svc.delete('github.token')
  try {
    svc.store('bad key', 'x')
  } catch {}
  assert.equal(cli(file, ['get', 'absent.key']).code, 1)
  svc.close()
  const log = fs.readFileSync(`${file}.audit.jsonl`, 'utf8')
  assert.doesNotMatch(log, /audit-secret-value/)
  const lines = log.trim().split('\n').map((l) => JSON.parse(l))
  const ops = lines.map((l) => [l.op, l.key ?? l.prefix ?? null, l.outcome])
  assert.deepEqual(ops, [
    ['init', null, 'success'],
    ['store', 'github.token', 'success'],
    ['retrieve', 'github.token', 'success'],
    ['has', 'github.token', 'success'],
    ['list', 'github.', 'success'],
    ['delete', 'github.token', 'success'],
    ['store', 'bad key', 'failure'],
    ['retrieve', 'absent.key', 'failure'],
  ])
  assert.equal(lines[6].error, 'usage')
  assert.ok(lines.every((l) => l.auth === 'hmac' && l.pid > 0 && l.user))
  assert.equal(lines[1].pid, process.pid)
  // One chain, authenticated, written by both: the CLI verifies it.
  const r = cli(file, ['--json', 'audit', 'verify'])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.equal(JSON.parse(r.stdout).intact, true)
})

test('read lines are deferred: written within the window without close, and by close', async () => {
  const { file, svc } = newVault()
  svc.store('deferred.key', 'v')
  svc.retrieve('deferred.key')
  const ops = () =>
    fs
      .readFileSync(`${file}.audit.jsonl`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).op)
  // The background writer: waited for, not timed (bounded).
  const deadline = Date.now() + 60_000
  while (!ops().includes('retrieve')) {
    assert.ok(Date.now() < deadline, 'the deferred line was never written')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  svc.has('deferred.key')
  svc.list('deferred.')
  svc.close()
  assert.deepEqual(ops().slice(-4), ['store', 'retrieve', 'has', 'list'])
  const r = cli(file, ['--json', 'audit', 'verify'])
  assert.equal(r.code, 0, r.stdout + r.stderr)
})

test('a process that exits right after a read leaves its line (the exit hook writes deferred lines)', () => {
  const { file, svc } = newVault()
  svc.store('exit.key', 'v')
  svc.close()
  const { spawnSync } = require('node:child_process')
  const script = `
    const { CredentialService } = require(${JSON.stringify(path.resolve(__dirname, '..'))})
    const svc = CredentialService.open({ path: process.argv[1], passphrase: ${JSON.stringify(PASS)}, keychain: false })
    if (svc.retrieve('exit.key') !== 'v') process.exit(3)
    svc.has('exit.key')
    process.exit(0) // no close(): the 'exit' hook flushes
  `
  const r = spawnSync(process.execPath, ['-e', script, file], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  const lines = fs.readFileSync(`${file}.audit.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  assert.deepEqual(lines.slice(-2).map((l) => [l.op, l.key]), [['retrieve', 'exit.key'], ['has', 'exit.key']])
  assert.equal(lines.at(-1).pid, r.pid)
  const v = cli(file, ['--json', 'audit', 'verify'])
  assert.equal(v.code, 0, v.stdout + v.stderr)
})

test('a handle reads on after the CLI re-keys the vault, and writes under the new key', () => {
  const { file, svc } = newVault()
  svc.store('rekeyed.one', '1')
  let r = cli(file, ['--json', 'rekey'])
  assert.equal(r.code, 0, r.stderr)
  r = cli(file, ['set', 'rekeyed.two'], { input: '2' })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(svc.retrieve('rekeyed.two'), '2')
  svc.store('rekeyed.three', '3')
  assert.equal(cli(file, ['get', 'rekeyed.three']).stdout, '3\n')
  assert.deepEqual(svc.list('rekeyed.'), ['rekeyed.one', 'rekeyed.three', 'rekeyed.two'])
  svc.close()
})
