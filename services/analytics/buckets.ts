/**
 * UTC time buckets. Computed here rather than with SQL's date_trunc so a bucket never depends on the
 * database session's time zone.
 */
export type BucketUnit = "minute" | "day"

const unitMillis: Record<BucketUnit, number> = { minute: 60_000, day: 86_400_000 }

export const floorTo = (unit: BucketUnit, at: Date): Date =>
  new Date(Math.floor(at.getTime() / unitMillis[unit]) * unitMillis[unit])

/** A `date` column's value: the UTC day of `at`, as YYYY-MM-DD. */
export const dayOf = (at: Date): string => floorTo("day", at).toISOString().slice(0, 10)

/** The starts of the buckets overlapping `[from, to)`. */
export const bucketStarts = (unit: BucketUnit, from: Date, to: Date): ReadonlyArray<Date> => {
  const starts: Array<Date> = []
  for (let start = floorTo(unit, from).getTime(); start < to.getTime(); start += unitMillis[unit]) {
    starts.push(new Date(start))
  }
  return starts
}

/** How many buckets overlap `[from, to)`, without building them. */
export const bucketCount = (unit: BucketUnit, from: Date, to: Date): number =>
  Math.max(0, Math.ceil((to.getTime() - floorTo(unit, from).getTime()) / unitMillis[unit]))

export const daysBefore = (at: Date, days: number): string => dayOf(new Date(at.getTime() - days * unitMillis.day))
