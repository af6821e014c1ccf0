/**
 * SQL statements executed per database, from pg_stat_statements (scripts/infra/up.sh preloads it and
 * creates the view in the `postgres` database). Two snapshots and a difference, so no reset privilege
 * is needed and other databases' traffic is left out.
 */
import { SQL } from "bun"

export type StatementCounts = ReadonlyMap<string, number>

export const statementsAvailable = async (sql: SQL) => {
  try {
    await sql`SELECT 1 FROM pg_stat_statements LIMIT 1`
    return true
  } catch {
    return false
  }
}

export const statementCounts = async (sql: SQL): Promise<StatementCounts> => {
  const rows = (await sql`
    SELECT d.datname AS database, sum(s.calls)::bigint AS calls
    FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
    GROUP BY d.datname`) as Array<{ database: string; calls: string | number }>
  return new Map(rows.map((row) => [row.database, Number(row.calls)]))
}

/** Statements per unit of work in each of `databases` (name → database), and their sum as `total`. */
export const statementsPer = (
  before: StatementCounts,
  after: StatementCounts,
  databases: Readonly<Record<string, string>>,
  units: number,
) => {
  const perUnit: Record<string, number> = {}
  let total = 0
  for (const [name, database] of Object.entries(databases)) {
    const count = ((after.get(database) ?? 0) - (before.get(database) ?? 0)) / Math.max(1, units)
    perUnit[name] = Number(count.toFixed(2))
    total += count
  }
  perUnit.total = Number(total.toFixed(2))
  return perUnit
}
