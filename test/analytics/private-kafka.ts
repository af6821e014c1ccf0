/**
 * A Kafka broker of the suite's own: a single KRaft node from the same jars scripts/infra/up.sh runs,
 * on free ports, with its data in a temporary folder.
 *
 * Why not the shared broker: analytics reads whole topics ("orders", "inventory" …) from their start,
 * and on a shared broker those hold every event any run of any suite or benchmark ever published —
 * hundreds of thousands, from other databases. Totals could then never equal one run's databases.
 * On a broker of its own a suite's topics hold exactly the events of the databases it started.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { homedir, tmpdir } from "node:os"
import { join } from "node:path"
import { Kafka, logLevel } from "kafkajs"
import { freePort } from "../support/service-process.ts"

const kafkaLibs = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "commerce-mesh", "kafka", "libs")

export interface PrivateKafka {
  /** `KAFKA_BROKERS` for the services and clients that should use it. */
  readonly brokers: string
  readonly stop: () => Promise<void>
}

const properties = (dir: string, port: number, controllerPort: number) =>
  [
    "process.roles=broker,controller",
    "node.id=1",
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    "controller.listener.names=CONTROLLER",
    "inter.broker.listener.name=PLAINTEXT",
    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    `log.dirs=${join(dir, "data")}`,
    "offsets.topic.replication.factor=1",
    "offsets.topic.num.partitions=1",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "transaction.state.log.num.partitions=1",
    "default.replication.factor=1",
    "min.insync.replicas=1",
    "group.initial.rebalance.delay.ms=0",
    "auto.create.topics.enable=true",
    "num.partitions=3",
    "num.network.threads=2",
    "num.io.threads=2",
    "num.recovery.threads.per.data.dir=1",
    "log.cleaner.enable=false",
    "",
  ].join("\n")

const log4j = (dir: string) =>
  [
    "log4j.rootLogger=WARN, file",
    "log4j.appender.file=org.apache.log4j.FileAppender",
    `log4j.appender.file.File=${join(dir, "server.log")}`,
    "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
    "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n",
    "",
  ].join("\n")

/** A KRaft cluster id: 16 random bytes, base64url without padding; one in 64 starts with "-", so it is passed
 * as `--cluster-id=<id>` (given apart, the tool's parser reads it as an option). */
const clusterId = () => Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64url")

const java = (dir: string, args: ReadonlyArray<string>, output: "pipe" | "ignore") =>
  Bun.spawn(
    [
      "java",
      "-Xms64m",
      "-Xmx384m",
      "-XX:+UseSerialGC",
      `-Dlog4j.configuration=file:${join(dir, "log4j.properties")}`,
      "-cp",
      `${kafkaLibs}/*`,
      ...args,
    ],
    { stdout: output, stderr: output },
  )

const answers = async (brokers: string) => {
  const admin = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin()
  try {
    await admin.connect()
    await admin.describeCluster()
    return true
  } catch {
    return false
  } finally {
    await admin.disconnect().catch(() => undefined)
  }
}

export const startPrivateKafka = async (): Promise<PrivateKafka> => {
  if (!(await Bun.file(join(kafkaLibs, ".pom.sha256")).exists())) {
    throw new Error(`no Kafka jars in ${kafkaLibs}: run scripts/infra/up.sh once to download them`)
  }
  const dir = await mkdtemp(join(tmpdir(), "cm-analytics-kafka-"))
  const port = freePort()
  const config = join(dir, "server.properties")
  await Bun.write(config, properties(dir, port, freePort()))
  await Bun.write(join(dir, "log4j.properties"), log4j(dir))
  const format = java(dir, ["kafka.tools.StorageTool", "format", `--cluster-id=${clusterId()}`, "-c", config], "pipe")
  if ((await format.exited) !== 0) {
    throw new Error(`kafka storage format failed: ${await new Response(format.stderr).text()}`)
  }
  // Its log goes to server.log; nothing reads the pipes, so none are opened.
  const broker = java(dir, ["kafka.Kafka", config], "ignore")
  // A test process that dies without its afterAll must not leave a JVM behind.
  const killOnExit = () => broker.kill("SIGKILL")
  process.once("exit", killOnExit)
  const brokers = `127.0.0.1:${port}`
  const stop = async () => {
    process.off("exit", killOnExit)
    broker.kill("SIGTERM")
    const exited = await Promise.race([broker.exited.then(() => true), Bun.sleep(10_000).then(() => false)])
    if (!exited) {
      broker.kill("SIGKILL")
      await broker.exited
    }
    await rm(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (broker.exitCode !== null) {
      const log = await Bun.file(join(dir, "server.log"))
        .text()
        .catch(() => "")
      await rm(dir, { recursive: true, force: true })
      throw new Error(`private kafka exited with ${broker.exitCode}:\n${log.slice(-3_000)}`)
    }
    if (await answers(brokers)) return { brokers, stop }
    await Bun.sleep(250)
  }
  await stop()
  throw new Error("private kafka did not answer within 60 s")
}
