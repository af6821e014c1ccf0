/**
 * Customers for the REST benches, made through the API: registered, logged in (bearer tokens), carts
 * filled. Many at once, a few dozen in flight.
 */
import { AuthSession } from "../../rpc/user.ts"
import { bodyAs, type Client } from "../../test/gateway/support.ts"

/** Runs `work` over `items` with at most `limit` at once. */
export const pool = async <T>(items: ReadonlyArray<T>, limit: number, work: (item: T) => Promise<void>) => {
  let next = 0
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++] as T)
    }),
  )
}

export interface Customer {
  readonly token: string
}

export const newCustomers = async (api: Client, count: number) => {
  const customers: Array<Customer> = []
  await pool(
    Array.from({ length: count }, (_, i) => i),
    32,
    async () => {
      // A whole UUID: the bench databases keep every run's customers, and 8 hex digits collide within tens of thousands.
      const email = `bench-${crypto.randomUUID()}@example.com`
      const registered = await api.call("POST", "/auth/register", {
        body: { email, password: "bench password", name: "Bench" },
      })
      if (registered.status !== 201)
        throw new Error(`register: ${registered.status} ${JSON.stringify(registered.body)}`)
      const login = await api.call("POST", "/auth/login", { body: { email, password: "bench password" } })
      customers.push({ token: bodyAs(AuthSession, login).token })
    },
  )
  return customers
}

/** One unit in each customer's cart; a cart still frozen by its previous order's clear is retried. */
export const fillCarts = async (api: Client, customers: ReadonlyArray<Customer>, skus: ReadonlyArray<string>) =>
  pool(customers, 32, async (customer) => {
    const sku = skus[Math.floor(Math.random() * skus.length)]
    for (let attempt = 0; ; attempt++) {
      const added = await api.call("POST", "/cart/items", { token: customer.token, body: { sku, quantity: 1 } })
      if (added.status === 200) return
      if (added.status !== 409 || attempt > 50)
        throw new Error(`add item: ${added.status} ${JSON.stringify(added.body)}`)
      await Bun.sleep(100)
    }
  })
