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
