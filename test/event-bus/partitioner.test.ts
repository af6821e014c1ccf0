/**
 * The event producer's partitioner chooses, message for message, the partition kafkajs's own
 * `Partitioners.DefaultPartitioner` (the Java client's murmur2) chooses: keys keep landing where every other
 * client puts them. Pure logic, no broker needed.
 */
import { expect, test } from "bun:test"
import { type PartitionMetadata, Partitioners } from "kafkajs"
import { Murmur2Partitioner, murmur2 } from "../../src/events/partitioner.ts"

const metadata = (count: number, leaderless: ReadonlyArray<number> = []): Array<PartitionMetadata> =>
  Array.from({ length: count }, (_, partitionId) => ({
    partitionId,
    leader: leaderless.includes(partitionId) ? -1 : 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }))

const keys = [
  "",
  "a",
  "ab",
  "abc",
  "abcd",
  "abcde",
  "order-7",
  "ünïcødé ключ 鍵",
  ...Array.from({ length: 500 }, () => crypto.randomUUID()),
  ...Array.from({ length: 200 }, (_, i) => `sku-${i}-${"x".repeat(i % 13)}`),
]

test("murmur2 matches the Java client's known values", () => {
  // Values from Kafka's own UtilsTest (org.apache.kafka.common.utils.UtilsTest#testMurmur2).
  expect(murmur2(Buffer.from("21"))).toBe(-973932308)
  expect(murmur2(Buffer.from("foobar"))).toBe(-790332482)
  expect(murmur2(Buffer.from("a-little-bit-long-string"))).toBe(-985981536)
  expect(murmur2(Buffer.from("a-little-bit-longer-string"))).toBe(-1486304829)
  expect(murmur2(Buffer.from("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"))).toBe(-58897971)
  expect(murmur2(Buffer.from([97, 98, 99]))).toBe(479470107)
})

test("a keyed message gets the partition kafkajs's DefaultPartitioner gives it, for strings and buffers", () => {
  const ours = Murmur2Partitioner()
  const theirs = Partitioners.DefaultPartitioner()
  for (const partitions of [1, 3, 6, 12, 50]) {
    const partitionMetadata = metadata(partitions, [1])
    for (const key of keys) {
      for (const asGiven of [key, Buffer.from(key)]) {
        const args = { topic: "t", partitionMetadata, message: { key: asGiven, value: "v" } }
        expect(ours(args)).toBe(theirs(args))
      }
    }
  }
})

test("a message naming its partition keeps it; one without a key goes round the partitions that have a leader", () => {
  const partition = Murmur2Partitioner()
  const partitionMetadata = metadata(4, [2])
  expect(partition({ topic: "t", partitionMetadata, message: { key: "k", value: "v", partition: 3 } })).toBe(3)
  const chosen = Array.from({ length: 9 }, () => partition({ topic: "t", partitionMetadata, message: { value: "v" } }))
  expect(new Set(chosen)).toEqual(new Set([0, 1, 3]))
  // Consecutive keyless messages take consecutive available partitions.
  const available = [0, 1, 3]
  for (let i = 1; i < chosen.length; i++) {
    expect(available.indexOf(chosen[i] as number)).toBe((available.indexOf(chosen[i - 1] as number) + 1) % 3)
  }
})
