import { describe, expect, test } from "bun:test"
import { Redacted } from "effect"
import { isSealed, openPaymentMethod, sealKeys, sealPaymentMethod } from "../../src/payment-method-seal.ts"

const keys = sealKeys(Redacted.make("test key"))

describe("a card token sealed for the payment service", () => {
  test("opens to the token for the customer it was sealed for, and shows nothing of it", () => {
    const sealed = sealPaymentMethod(keys, "cus_1", "tok_visa_4242")
    expect(isSealed(sealed)).toBe(true)
    expect(sealed).not.toContain("tok_visa")
    expect(openPaymentMethod(keys, "cus_1", sealed)).toBe("tok_visa_4242")
  })

  test("the same token for the same customer seals the same (a retried checkout names the same method)", () => {
    expect(sealPaymentMethod(keys, "cus_1", "tok_a")).toBe(sealPaymentMethod(keys, "cus_1", "tok_a"))
    expect(sealPaymentMethod(keys, "cus_1", "tok_a")).not.toBe(sealPaymentMethod(keys, "cus_2", "tok_a"))
    expect(sealPaymentMethod(keys, "cus_1", "tok_a")).not.toBe(sealPaymentMethod(keys, "cus_1", "tok_b"))
  })

  test("does not open for another customer, with another key, altered, cut short, or when it was never sealed", () => {
    const sealed = sealPaymentMethod(keys, "cus_1", "tok_visa")
    expect(openPaymentMethod(keys, "cus_2", sealed)).toBeUndefined()
    expect(openPaymentMethod(sealKeys(Redacted.make("other key")), "cus_1", sealed)).toBeUndefined()
    const body = sealed.slice("pms1.".length)
    const flipped = body[5] === "A" ? "B" : "A"
    expect(openPaymentMethod(keys, "cus_1", `pms1.${body.slice(0, 5)}${flipped}${body.slice(6)}`)).toBeUndefined()
    expect(openPaymentMethod(keys, "cus_1", `pms1.${body.slice(0, 20)}`)).toBeUndefined()
    expect(openPaymentMethod(keys, "cus_1", "pm_registered_id")).toBeUndefined()
    expect(isSealed("pm_registered_id")).toBe(false)
  })

  test("a 200-character token (the gateway's longest) still fits a payment method id", () => {
    expect(sealPaymentMethod(keys, "cus_1", "t".repeat(200)).length).toBeLessThanOrEqual(512)
  })
})
