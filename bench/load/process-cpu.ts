/**
 * CPU seconds used so far (user + system, from /proc; Linux only) by each named process and by the
 * servers the mesh leans on (PostgreSQL's backends, RabbitMQ, Kafka, Redis), so a run can say what a unit of
 * work costs in CPU and where. PostgreSQL counts its exited backends too: the postmaster's reaped
 * children's time (cutime, cstime), so the figure does not drop when a connection closes.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"

const ticksPerSecond = 100 // USER_HZ on Linux

const cpuOf = (pid: string | number, withReapedChildren = false) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const own = Number(fields[11]) + Number(fields[12])
    const children = withReapedChildren ? Number(fields[13]) + Number(fields[14]) : 0
    return (own + children) / ticksPerSecond
  } catch {
    return 0
  }
}

export const cpuSeconds = (processes: ReadonlyMap<string, number>): Map<string, number> => {
  const totals = new Map<string, number>()
  const add = (name: string, seconds: number) => totals.set(name, (totals.get(name) ?? 0) + seconds)
  for (const [name, pid] of processes) add(name, cpuOf(pid))
  add("loadgen", cpuOf(process.pid))
  if (!existsSync("/proc/self/stat")) return totals
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    let command = ""
    try {
      command = readFileSync(`/proc/${entry}/cmdline`, "utf8")
    } catch {
      continue
    }
    if (command.startsWith("postgres") || command.includes("/bin/postgres\0")) add("postgres", cpuOf(entry, true))
    else if (command.includes("beam.smp")) add("rabbitmq", cpuOf(entry))
    else if (command.includes("kafka.Kafka")) add("kafka", cpuOf(entry))
    else if (command.startsWith("redis-server")) add("redis", cpuOf(entry))
  }
  return totals
}

/**
 * CPU ms per unit of work between two readings, per process, plus `mesh`: the sum over everything
 * but the load generator.
 */
export const cpuMsPer = (before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, units: number) => {
  const perUnit: Record<string, number> = {}
  let mesh = 0
  for (const [name, seconds] of after) {
    const ms = ((seconds - (before.get(name) ?? 0)) * 1000) / Math.max(1, units)
    perUnit[name] = Number(ms.toFixed(2))
    if (name !== "loadgen") mesh += ms
  }
  perUnit.mesh = Number(mesh.toFixed(2))
  return perUnit
}

/** Resident memory (MB) of each named process now, from /proc (0 for one that is gone). */
export const rssMb = (processes: ReadonlyMap<string, number>): Record<string, number> => {
  const sizes: Record<string, number> = {}
  for (const [name, pid] of processes) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8")
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
      sizes[name] = Math.round(kb / 1024)
    } catch {
      sizes[name] = 0
    }
  }
  return sizes
}
