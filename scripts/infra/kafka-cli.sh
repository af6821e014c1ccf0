#!/usr/bin/env bash
# Run the Kafka 3.9.1 admin tools from the jar cache (no Kafka distribution needed).
#   scripts/infra/kafka-cli.sh topics --list
#   scripts/infra/kafka-cli.sh topics --create --topic orders --partitions 3
#   scripts/infra/kafka-cli.sh consumer-groups --describe --all-groups
#   scripts/infra/kafka-cli.sh console-consumer --topic orders --from-beginning --max-messages 5
#   scripts/infra/kafka-cli.sh console-producer --topic orders     (lines from stdin)
#   scripts/infra/kafka-cli.sh org.apache.kafka.tools.SomeOtherTool ...
# --bootstrap-server defaults to $KAFKA_BROKERS (or 127.0.0.1:9092).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ -d "$KAFKA_LIBS" ]] || die "no Kafka jars in $KAFKA_LIBS — run scripts/infra/up.sh first"
(($#)) || { sed -n '2,9p' "$0"; exit 2; }

tool=$1; shift
case $tool in
  topics) cls=org.apache.kafka.tools.TopicCommand ;;
  consumer-groups) cls=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
  console-consumer) cls=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
  console-producer) cls=kafka.tools.ConsoleProducer ;;
  metadata-quorum) cls=org.apache.kafka.tools.MetadataQuorumCommand ;;
  get-offsets) cls=org.apache.kafka.tools.GetOffsetShell ;;
  *.*) cls=$tool ;;
  *) die "unknown tool '$tool' (topics, consumer-groups, console-consumer, console-producer, metadata-quorum, get-offsets, or a class name)" ;;
esac
args=("$@")
[[ " $* " == *" --bootstrap-server "* ]] || args=(--bootstrap-server "${KAFKA_BROKERS:-$DEFAULT_KAFKA_BROKERS}" "${args[@]}")

log4j="$(mktemp)"; trap 'rm -f "$log4j"' EXIT
printf '%s\n' 'log4j.rootLogger=WARN, stderr' \
  'log4j.appender.stderr=org.apache.log4j.ConsoleAppender' 'log4j.appender.stderr.Target=System.err' \
  'log4j.appender.stderr.layout=org.apache.log4j.PatternLayout' \
  'log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n' >"$log4j"
java -Xmx256m -Dlog4j.configuration="file:$log4j" -cp "$KAFKA_LIBS/*" "$cls" "${args[@]}"
