// Benchmark of the Node module (figures recorded in benches/RESULTS.md,
// section "The Node module"). One run:
//
//   cd bindings/node && npm run build
//   cargo build --release -p credvault-benches --bin engine-set
//   bash ../../scripts/with-secret-service.sh node --expose-gc bench/bench.js
//
// On an open vault of 1,000 entries (passphrase slot, weak Argon2id: the KDF
// is paid once at open and is not what is measured), each call timed on its
// own, median, 99th percentile and mean (the mean carries the deferred
// audit lines' batch writes, one per 64 reads):
//   retrieve, retrieveBuffer, has, list(prefix of 10), list() of all 1,000,
//   retrieveAsync, a durable store (fsync, rename, 3 generations);
// once with the audit log off (CREDVAULT_AUDIT=off) and once on (the
// default: one HMAC-chained line per call);
// the engine's own durable Vault::set on the same vault (engine-set);
// and, inside a Secret Service (scripts/with-secret-service.sh),
// @napi-rs/keyring getPassword, and retrieve on a keychain-slot vault.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const { CredentialService } = require('..')

const ENTRIES = 1000
const PASS = 'bench passphrase'
const WEAK = { memoryMib: 8, iterations: 1, parallelism: 1 }
const ROOT = path.resolve(__dirname, '..', '..', '..')

function time(n, fn) {
  const samples = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint()
    fn(i)
    samples[i] = Number(process.hrtime.bigint() - t0) / 1000
  }
  return summary(samples)
}

async function timeAsync(n, fn) {
  const samples = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint()
    await fn(i)
    samples[i] = Number(process.hrtime.bigint() - t0) / 1000
  }
  return summary(samples)
}

function summary(samples) {
  const s = Array.from(samples).sort((a, b) => a - b)
  const at = (q) => s[Math.round((s.length - 1) * q)]
  const mean = s.reduce((a, b) => a + b, 0) / s.length
  return { median: at(0.5), p99: at(0.99), mean, n: s.length }
}

const key = (i) => `bench.k${String(i % ENTRIES).padStart(4, '0')}`
const rows = []
const row = (what, r) => rows.push([what, r.median, r.p99, r.mean, r.n])

async function measure(file, label) {
  const svc = CredentialService.open({ path: file, passphrase: PASS, keychain: false })
  time(2000, (i) => svc.retrieve(key(i))) // warm up
  row(`retrieve (${label})`, time(20000, (i) => svc.retrieve(key(i * 7))))
  row(`retrieveBuffer (${label})`, time(20000, (i) => svc.retrieveBuffer(key(i * 7))))
  row(`has (${label})`, time(20000, (i) => svc.has(key(i * 7))))
  row(`list('bench.k012') — 10 keys (${label})`, time(20000, () => svc.list('bench.k012')))
  row(`list() — all 1,000 keys (${label})`, time(2000, () => svc.list()))
  row(`retrieveAsync (${label})`, await timeAsync(5000, (i) => svc.retrieveAsync(key(i * 7))))
  row(`store, durable (${label})`, time(200, (i) => svc.store(key(i * 13), `value-${i}`)))
  svc.close()
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'credvault-bench-'))
  const file = path.join(dir, 'bench.cvault')
  try {
    process.env.CREDVAULT_AUDIT = 'off'
    const svc = CredentialService.open({ path: file, passphrase: PASS, keychain: false, create: true, kdf: WEAK })
    // 1,000 entries of ~40 bytes in one save (migrateFromEnv is one transaction).
    const map = {}
    for (let i = 0; i < ENTRIES; i++) {
      process.env[`CV_BENCH_${i}`] = `value-${i}-${'x'.repeat(32)}`
      map[`CV_BENCH_${i}`] = key(i)
    }
    svc.migrateFromEnv(map)
    for (let i = 0; i < ENTRIES; i++) delete process.env[`CV_BENCH_${i}`]
    if (svc.status().entries !== ENTRIES) throw new Error('fixture not built')
    svc.close()
    const size = fs.statSync(file).size

    await measure(file, 'audit off')
    process.env.CREDVAULT_AUDIT = 'on'
    await measure(file, 'audit on')
    process.env.CREDVAULT_AUDIT = 'off'

    // The engine's own durable set on the same vault.
    const target = process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target')
    const engineSet = path.join(target, 'release', 'engine-set')
    if (fs.existsSync(engineSet)) {
      const out = execFileSync(engineSet, [file, 'bench.k', String(ENTRIES), '200'], {
        env: { ...process.env, CREDVAULT_PASSPHRASE: PASS },
        encoding: 'utf8',
      })
      const r = JSON.parse(out)
      rows.push(['engine Vault::set, durable (Rust, no audit)', r.median_us, r.p99_us, null, r.rounds])
    } else {
      console.error(`skipped the engine's set: no ${engineSet} (cargo build --release -p credvault-benches --bin engine-set)`)
    }

    // @napi-rs/keyring getPassword, and a keychain-slot vault, in a Secret Service.
    if (process.env.DBUS_SESSION_BUS_ADDRESS) {
      const { Entry } = require('@napi-rs/keyring')
      const entry = new Entry('credvault-bench', 'napi-rs-keyring')
      entry.setPassword('bench-secret-value')
      if (entry.getPassword() !== 'bench-secret-value') throw new Error('keyring round trip failed')
      row('@napi-rs/keyring getPassword (Secret Service)', time(300, () => entry.getPassword()))
      entry.deletePassword()

      const kc = path.join(dir, 'keychain.cvault')
      const k = CredentialService.open({ path: kc, create: true })
      if (k.status().backend !== 'keychain') throw new Error('no keychain slot')
      k.store('github.token', 'kc-value')
      time(1000, () => k.retrieve('github.token'))
      row('retrieve, keychain-slot vault (audit off)', time(20000, () => k.retrieve('github.token')))
      k.close()
      const opened = time(20, () => CredentialService.open({ path: kc }).close())
      row('open + close, keychain-slot vault (one Secret Service lookup)', opened)
    } else {
      console.error('skipped @napi-rs/keyring: no D-Bus session (run inside scripts/with-secret-service.sh)')
    }

    console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0].model}), vault of ${ENTRIES} entries, ${size} bytes`)
    console.log('')
    console.log('| operation | median (µs) | p99 (µs) | mean (µs) | calls |')
    console.log('|---|---:|---:|---:|---:|')
    for (const [what, median, p99, mean, n] of rows) {
      const m = mean === null ? '–' : mean.toFixed(1)
      console.log(`| ${what} | ${median.toFixed(1)} | ${p99.toFixed(1)} | ${m} | ${n} |`)
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
