/** The gradient limit the saga runner sizes its permits with: pure bookkeeping, driven by hand here. */
import { describe, expect, test } from "bun:test"
import { makeGradientLimit } from "../../src/saga/adaptive-limit.ts"

describe("gradient limit", () => {
  test("grows while latency stays near its lowest and the work fills the limit", () => {
    const limit = makeGradientLimit({ initial: 8, min: 2, max: 64 })
    let now = 0
    for (let i = 0; i < 200; i++) limit.sample(100, limit.limit(), (now += 10))
    expect(limit.limit()).toBe(64)
  })

  test("does not grow when the work leaves the limit unused", () => {
    const limit = makeGradientLimit({ initial: 8, min: 2, max: 64 })
    let now = 0
    for (let i = 0; i < 200; i++) limit.sample(100, 1, (now += 10))
    expect(limit.limit()).toBe(8)
  })

  test("shrinks once latency passes the tolerance over the lowest seen, and never below min", () => {
    const limit = makeGradientLimit({ initial: 32, min: 3, max: 64 })
    let now = 0
    limit.sample(100, 32, (now += 10))
    for (let i = 0; i < 30; i++) limit.sample(500, 32, (now += 10))
    const shrunk = limit.limit()
    expect(shrunk).toBeLessThan(32)
    for (let i = 0; i < 500; i++) limit.sample(2_000, 32, (now += 10))
    expect(limit.limit()).toBe(3)
  })

  test("below the latency floor nothing counts as queueing (batched work gets slower per unit as it gets cheaper)", () => {
    const limit = makeGradientLimit({ initial: 16, min: 2, max: 64, floorMillis: 100 })
    let now = 0
    limit.sample(5, 16, (now += 1))
    for (let i = 0; i < 200; i++) limit.sample(80, limit.limit(), (now += 10))
    expect(limit.limit()).toBe(64)
    for (let i = 0; i < 200; i++) limit.sample(400, limit.limit(), (now += 10))
    expect(limit.limit()).toBeLessThan(64)
  })

  test("forgets a fast moment after two windows, so a lasting slowdown becomes the new normal", () => {
    const limit = makeGradientLimit({ initial: 16, min: 2, max: 64, windowMillis: 1_000 })
    let now = 0
    limit.sample(10, 16, (now += 1))
    // Ten times slower for good: first the limit falls, then, once 10 ms is forgotten, it grows again.
    for (let i = 0; i < 100; i++) limit.sample(100, limit.limit(), (now += 10))
    const fallen = limit.limit()
    expect(fallen).toBeLessThan(16)
    for (let i = 0; i < 300; i++) limit.sample(100, limit.limit(), (now += 10))
    expect(limit.limit()).toBeGreaterThan(fallen)
  })

  test("the recent latency is a smoothed figure of the samples", () => {
    const limit = makeGradientLimit({ initial: 4, min: 1, max: 8 })
    expect(limit.recentLatency()).toBeUndefined()
    limit.sample(100, 4, 1)
    expect(limit.recentLatency()).toBe(100)
    limit.sample(200, 4, 2)
    expect(limit.recentLatency()).toBeCloseTo(120)
  })
})
