// Shared by the tests: temp vaults, the real `credvault` CLI, the modes.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')

const { CredentialService } = require('..')

const ROOT = path.resolve(__dirname, '..', '..', '..')
// Weak Argon2id parameters keep the tests fast; real vaults calibrate.
const WEAK = { memoryMib: 8, iterations: 1, parallelism: 1 }
const PASS = 'correct horse battery staple'

/** `CREDVAULT_TEST_KEYRING`: `secret-service`, `absent` or unset. */
const keyringMode = process.env.CREDVAULT_TEST_KEYRING || null

/** The CLI binary: `CREDVAULT_BIN`, else the workspace's debug build. */
function cliPath() {
  const target = process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target')
  const bin = process.env.CREDVAULT_BIN || path.join(target, 'debug', 'credvault')
  if (!fs.existsSync(bin)) {
    throw new Error(`no credvault CLI at ${bin}: run cargo build -p credvault-cli or set CREDVAULT_BIN`)
  }
  return bin
}

/** A fresh private directory, removed when the process exits. */
function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'credvault-node-'))
  fs.chmodSync(dir, 0o700)
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A new passphrase vault (no keychain) and its open handle. */
function newVault(extra = {}) {
  const dir = tempDir()
  const file = path.join(dir, 'vault.cvault')
  const svc = CredentialService.open({
    path: file,
    passphrase: PASS,
    keychain: false,
    create: true,
    kdf: WEAK,
    ...extra,
  })
  return { dir, file, svc }
}

function cliEnv(extraEnv) {
  return { ...process.env, CREDVAULT_PASSPHRASE: PASS, ...extraEnv }
}

/** Runs the CLI on `file` (passphrase from the environment, never argv). */
function cli(file, args, { input, env, keychain = false } = {}) {
  const argv = ['--vault', file, ...(keychain ? [] : ['--no-keychain']), ...args]
  const r = spawnSync(cliPath(), argv, { input: input ?? '', env: cliEnv(env), encoding: 'utf8' })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** The CLI as a child process (for concurrent writers). */
function cliAsync(file, args, { input, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cliPath(), ['--vault', file, '--no-keychain', ...args], { env: cliEnv(env) })
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stderr }))
    child.stdin.end(input ?? '')
  })
}

/** The error a call throws (or rejects with), for checking its code. */
function caught(fn) {
  try {
    fn()
  } catch (e) {
    return e
  }
  throw new Error('expected an error')
}

module.exports = { CredentialService, ROOT, WEAK, PASS, keyringMode, cli, cliAsync, caught, newVault, tempDir }
