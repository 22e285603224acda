// The guide's examples run as written (issue 20): every ```js block of
// docs/node.md that the line `<!-- test: node -->` directly precedes is
// run by node against a throwaway vault, as docs/README.md describes. A
// ```text block right after it (blank lines between are allowed) is the
// output the guide shows: stdout must be exactly that. A marker not
// followed by a ```js fence, a block never closed, or a guide without a
// marked block fails the test.
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const { ROOT, PASS, keyringMode, tempDir } = require('./helpers')

const MARKER = '<!-- test: node -->'
const GUIDE = 'docs/node.md'
const BINDING = path.resolve(__dirname, '..')

// Loaded before each example (node -r): a `CredentialService.open` or
// `openAsync` that names no `kdf` gets the test-only weak Argon2id
// parameters, as the shell examples' `credvault init` gets the weak
// `--kdf-` flags, so the example shows the real call and still runs in
// milliseconds. Never use such values for a real vault.
// (The class's static methods are read-only, so the module's export is
// replaced by a subclass whose two factories add the parameters.)
const PRELOAD = `'use strict'
const binding = require('credvault')
const Original = binding.CredentialService
const WEAK = { memoryMib: 8, iterations: 1, parallelism: 1 }
const weak = (o) => (o && o.kdf ? o : { ...(o || {}), kdf: WEAK })
binding.CredentialService = class CredentialService extends Original {
  static open(options) { return Original.open(weak(options)) }
  static openAsync(options) { return Original.openAsync(weak(options)) }
}
`

/** The marked blocks of `text`: `{ line, code, expected }` (`expected`
 *  null when no output block follows). Throws on a malformed marker. */
function extract(file, text) {
  const lines = text.split('\n')
  const blocks = []
  let inFence = false
  const closing = (from) => {
    let end = from
    while (end < lines.length && lines[end].trimEnd() !== '```') end++
    if (end === lines.length) throw new Error(`${file}:${from}: the block is never closed`)
    return end
  }
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trimStart().startsWith('```')) inFence = !inFence
    if (inFence || lines[i].trim() !== MARKER) continue
    const fence = i + 1
    const opening = (lines[fence] || '').trimEnd()
    if (opening !== '```js' && opening !== '```javascript') {
      throw new Error(`${file}:${i + 1}: \`${MARKER}\` must be followed directly by a \`\`\`js fence`)
    }
    const end = closing(fence + 1)
    const block = { line: fence + 1, code: lines.slice(fence + 1, end).join('\n'), expected: null }
    let next = end + 1
    while (next < lines.length && lines[next].trim() === '') next++
    if (next < lines.length && lines[next].trimEnd() === '```text') {
      const outEnd = closing(next + 1)
      const out = lines.slice(next + 1, outEnd)
      block.expected = out.length ? out.join('\n') + '\n' : ''
      i = outEnd
    } else {
      i = end
    }
    blocks.push(block)
  }
  return blocks
}

/** Runs one block in a sandbox of its own; returns node's result. */
function run(block) {
  const dir = tempDir()
  const home = path.join(dir, 'home')
  fs.mkdirSync(home)
  // require('credvault') is this build of bindings/node.
  fs.mkdirSync(path.join(home, 'node_modules'))
  fs.symlinkSync(BINDING, path.join(home, 'node_modules', 'credvault'))
  fs.writeFileSync(path.join(home, 'node_modules', 'docs-preload.js'), PRELOAD)
  fs.writeFileSync(path.join(home, 'example.js'), block.code + '\n')
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    USER: 'docs',
    LANG: 'C.UTF-8',
    XDG_DATA_HOME: path.join(home, '.local/share'),
    XDG_STATE_HOME: path.join(home, '.local/state'),
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    CREDVAULT_VAULT: path.join(dir, 'vaults', 'vault.cvault'),
    CREDVAULT_PASSPHRASE: PASS,
    // The private Secret Service of scripts/with-secret-service.sh, else
    // a bus address where nothing listens (no OS keychain).
    DBUS_SESSION_BUS_ADDRESS:
      keyringMode === 'secret-service' && process.env.DBUS_SESSION_BUS_ADDRESS
        ? process.env.DBUS_SESSION_BUS_ADDRESS
        : `unix:path=${path.join(dir, 'no-bus')}`,
  }
  return spawnSync(process.execPath, ['-r', path.join(home, 'node_modules', 'docs-preload.js'), 'example.js'], {
    cwd: home,
    env,
    input: '',
    encoding: 'utf8',
  })
}

/** `null` when the block ran as the guide says, else what went wrong. */
function check(file, block) {
  const r = run(block)
  const where = `${file}:${block.line}`
  if (r.status !== 0) {
    return `${where}: the example exited with ${r.status ?? r.signal}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`
  }
  if (block.expected !== null && r.stdout !== block.expected) {
    return `${where}: the example printed\n${r.stdout}--- but the guide shows\n${block.expected}--- stderr\n${r.stderr}`
  }
  return null
}

test(`${GUIDE}: its examples run as written and print what it shows`, () => {
  const text = fs.readFileSync(path.join(ROOT, GUIDE), 'utf8')
  const blocks = extract(GUIDE, text)
  assert.ok(blocks.length > 0, `${GUIDE}: no \`${MARKER}\` example`)
  assert.ok(blocks.some((b) => b.expected !== null), `${GUIDE}: no example shows its output`)
  const problems = blocks.map((b) => check(GUIDE, b)).filter((p) => p !== null)
  assert.deepEqual(problems, [])
})

test('a broken example fails with its file and line, a wrong output too', () => {
  const doc = [
    '# t',
    '',
    MARKER,
    '```js',
    "const { CredentialService } = require('credvault')",
    'const vault = CredentialService.open({ create: true, passphrase: process.env.CREDVAULT_PASSPHRASE })',
    "vault.store('a.b', 'one')",
    "console.log(vault.retrieve('a.b'))",
    'vault.close()',
    '```',
    '',
    '```text',
    'two',
    '```',
    '',
    MARKER,
    '```js',
    "require('credvault').CredentialService.open({ passphrase: process.env.CREDVAULT_PASSPHRASE })",
    '```',
  ].join('\n')
  const blocks = extract('docs/t.md', doc)
  assert.equal(blocks.length, 2)
  assert.equal(blocks[0].line, 4)
  assert.equal(blocks[0].expected, 'two\n')
  assert.equal(blocks[1].expected, null)
  const wrong = check('docs/t.md', blocks[0])
  assert.match(wrong, /^docs\/t\.md:4: the example printed\none\n--- but the guide shows\ntwo\n/)
  // No vault and no `create`: the call throws, node exits non-zero.
  const broken = check('docs/t.md', blocks[1])
  assert.match(broken, /^docs\/t\.md:17: the example exited with 1\n/)
  // Fixed, the first one passes.
  assert.equal(check('docs/t.md', { ...blocks[0], expected: 'one\n' }), null)
})

test('a marker without a js fence is an error; a quoted marker is not one', () => {
  assert.throws(() => extract('x.md', `${MARKER}\n\`\`\`ts\nx\n\`\`\`\n`), /^Error: x\.md:1: /)
  assert.throws(() => extract('x.md', `${MARKER}\n\`\`\`js\nx\n`), /never closed/)
  assert.deepEqual(extract('x.md', `\`\`\`text\n${MARKER}\n\`\`\`\n`), [])
})
