/**
 * The user service's own settings (indexed with every other variable in src/config.ts). The token
 * secret, AUTH_TOKEN_SECRET, is shared with the gateway and lives in src/auth-token.ts.
 */
import { Config } from "effect"
import { commaSeparated } from "../../src/config.ts"

/** `USER_SESSION_TTL_SECONDS`: how long a session (and its token) lives. */
export const sessionTtlSeconds = Config.integer("USER_SESSION_TTL_SECONDS").pipe(Config.withDefault(24 * 60 * 60))

/**
 * `USER_ARGON2_MEMORY_KIB`, `USER_ARGON2_TIME_COST`: argon2id's cost. The defaults are OWASP's minimum
 * for argon2id (19 MiB, 2 passes); tests lower them, production may raise them. Existing hashes carry
 * their own parameters, so a change applies to new passwords only.
 */
export const argon2MemoryKib = Config.integer("USER_ARGON2_MEMORY_KIB").pipe(Config.withDefault(19_456))
export const argon2TimeCost = Config.integer("USER_ARGON2_TIME_COST").pipe(Config.withDefault(2))

/**
 * `USER_BOOTSTRAP_ADMIN_EMAILS`: comma separated; an account registered with one of these addresses is an
 * admin from the start (someone has to be the first admin who can grant the role).
 */
export const bootstrapAdminEmails = commaSeparated("USER_BOOTSTRAP_ADMIN_EMAILS").pipe(
  Config.map((emails) => new Set(emails.map((email) => email.toLowerCase()))),
)
