/**
 * Direct SQL for test set-up and inspection, outside the code under test.
 */
import { SQL } from "bun"

const serverUrl = process.env.DATABASE_URL ?? "postgres://commerce:commerce@127.0.0.1:5432/postgres"

/** The URL of `database` on the server of DATABASE_URL (its maintenance database when undefined). */
export const databaseUrlFor = (database: string | undefined) => {
  if (database === undefined) return serverUrl
  const url = new URL(serverUrl)
  url.pathname = `/${database}`
  return url.toString()
}

/** Runs one statement on the server's maintenance database, or on `database`, and returns its rows. */
export const adminQuery = async (text: string, database?: string): Promise<Array<Record<string, unknown>>> => {
  const client = new SQL(databaseUrlFor(database), { max: 1 })
  try {
    return [...(await client.unsafe(text))]
  } finally {
    await client.close()
  }
}

/**
 * How many times statements of `database` whose text contains `fragment` have run (pg_stat_statements,
 * which scripts/infra/up.sh preloads): read before and after, to count the statements a piece of work took.
 */
export const statementCalls = async (database: string, fragment: string): Promise<number> => {
  const rows = await adminQuery(
    `SELECT coalesce(sum(s.calls), 0)::int AS calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
     WHERE d.datname = '${database.replaceAll("'", "''")}' AND s.query LIKE '%${fragment.replaceAll("'", "''")}%'`,
    "postgres",
  )
  return Number(rows[0]?.calls)
}
