// The desktop app's credentials module (Electron main process), rewritten
// on credvault. It keeps the procedures' shapes the rest of the app calls
// — credentialService.store / retrieve / delete / has / list /
// isEncryptionAvailable / migrateFromEnv / getWithFallback, synchronous,
// `null` for "absent" — so the swap is this file alone:
//
//   - import { safeStorage } from 'electron'; import Store from 'electron-store'
//   + import { CredentialService } from 'credvault'
//
// What changes underneath: values live in an encrypted vault (OS keychain
// slot, or a passphrase where there is no keyring — never `plain:`), every
// write is locked and atomic beside the CLI and other app instances, and
// every operation lands in the vault's audit log.
//
// Type-checked in CI: `tsc --noEmit -p examples/electron-main`.

import * as path from 'node:path'
import { CredentialService, type EnvResult, type ImportReport, type Status } from 'credvault'

/** The app's key convention: `<service>.<credential-type>`. */
export type CredentialKey =
  | 'postgresql.password'
  | 'memgraph.password'
  | 'qdrant.apiKey'
  | 'anthropic.apiKey'
  | 'openai.apiKey'
  | 'github.token'
  | 'github.accessToken'
  | 'github.refreshToken'
  | 'github.tokenExpiry'
  | `mcp.${string}`

/** The environment variables the app read before it had a store. */
export const ENV_MAP: Readonly<Record<string, CredentialKey>> = {
  PGPASSWORD: 'postgresql.password',
  ANTHROPIC_API_KEY: 'anthropic.apiKey',
  OPENAI_API_KEY: 'openai.apiKey',
  GITHUB_TOKEN: 'github.token',
  QDRANT_API_KEY: 'qdrant.apiKey',
  MEMGRAPH_PASSWORD: 'memgraph.password',
}

export interface CredentialServiceOptions {
  /** Electron's `app.getPath('userData')`: where the legacy credentials.json is. */
  userDataDir: string
  /** The vault; default CREDVAULT_VAULT, else ~/.local/share/credvault/vault.cvault. */
  vaultPath?: string
  /** Only where no OS keychain is reachable (e.g. asked once in a dialog). */
  passphrase?: string
  /** The app's name (`app.getName()`), for its safeStorage password. */
  appName?: string
}

class Credentials {
  private svc: CredentialService | null = null
  private userDataDir = ''

  /** Opens (first run: creates) the vault. Call once after `app.whenReady()`. */
  init(options: CredentialServiceOptions): { recoveryCode: string | null } {
    this.userDataDir = options.userDataDir
    this.svc = CredentialService.open({
      path: options.vaultPath,
      passphrase: options.passphrase,
      appName: options.appName ?? 'claude-pilot',
      create: true,
    })
    // Shown once to the user on the first run; null afterwards.
    return { recoveryCode: this.svc.takeRecoveryCode() }
  }

  private get service(): CredentialService {
    if (this.svc === null) throw new Error('credentialService.init() was not called')
    return this.svc
  }

  private get legacyFile(): string {
    return path.join(this.userDataDir, 'credentials.json')
  }

  store(key: CredentialKey, value: string): boolean {
    this.service.store(key, value)
    return true
  }

  retrieve(key: CredentialKey): string | null {
    return this.service.retrieve(key)
  }

  delete(key: CredentialKey): boolean {
    return this.service.delete(key)
  }

  has(key: CredentialKey): boolean {
    return this.service.has(key)
  }

  list(prefix?: string): string[] {
    return this.service.list(prefix)
  }

  /** Always true now: a vault has no plaintext mode. */
  isEncryptionAvailable(): boolean {
    return this.service.isEncryptionAvailable()
  }

  /** Copies set environment variables into the vault (one save). */
  migrateFromEnv(map: Record<string, string> = ENV_MAP): EnvResult[] {
    return this.service.migrateFromEnv(map)
  }

  /** The vault, then `process.env[envVar]`, then the old credentials.json. */
  getWithFallback(key: CredentialKey, envVar?: string): string | null {
    return this.service.getWithFallback(key, envVar, this.legacyFile)
  }

  /** One-time move of the old credentials.json into the vault. */
  importLegacy(removeLegacy = false): ImportReport {
    return this.service.importLegacy({ path: this.legacyFile, removeLegacy })
  }

  /** For a settings page: which backend protects the vault, entry count. */
  status(): Status {
    return this.service.status()
  }

  /** The same, off the main thread, for the renderer's IPC handlers. */
  async retrieveAsync(key: CredentialKey): Promise<string | null> {
    return this.service.retrieveAsync(key)
  }

  async storeAsync(key: CredentialKey, value: string): Promise<void> {
    await this.service.storeAsync(key, value)
  }

  /** On `app.on('will-quit')`. */
  close(): void {
    this.svc?.close()
    this.svc = null
  }
}

/** The app's singleton, as before. */
export const credentialService = new Credentials()

/** Error codes the app can branch on (the CLI's kinds). */
export type CredentialErrorCode = 'not_found' | 'usage' | 'unlock' | 'unreadable' | 'file_system' | 'incomplete'

export function errorCode(e: unknown): CredentialErrorCode | null {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' ? (code as CredentialErrorCode) : null
}
