// The package's entry: the generated loader (index.js) and one hook. A
// handle defers its reads' audit lines for up to 1 s (docs/node.md); on a
// normal exit (the event loop ends, process.exit(), Electron's quit) they
// are written before the process goes.
'use strict'
const binding = require('./index.js')

process.on('exit', () => binding.flushAuditLogs())

module.exports = binding
