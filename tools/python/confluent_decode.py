#!/usr/bin/env python3
"""Independent check of smsflow's wire format with Confluent's own Python client.

Consumes TOPIC from the beginning with confluent-kafka, decodes every value with
confluent_kafka.schema_registry.avro.AvroDeserializer (schema fetched from the registry by
the id in the Confluent header), and prints one JSON object per record:
    {"key": ..., "schema_id": ..., "record": {...decoded fields...}}

Usage: confluent_decode.py BOOTSTRAP REGISTRY_URL TOPIC COUNT [TIMEOUT_S]
Exit status 0 when COUNT records were decoded, 1 otherwise (with the reason on stderr).
"""
import json
import struct
import sys
import time
import uuid

from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def jsonable(v):
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    if isinstance(v, (uuid.UUID,)):
        return str(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def main():
    bootstrap, registry, topic, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 30.0
    deserializer = AvroDeserializer(SchemaRegistryClient({"url": registry}))
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "confluent-decode-%s" % uuid.uuid4(),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    decoded = 0
    deadline = time.time() + timeout
    try:
        while decoded < count and time.time() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                print("kafka error: %s" % msg.error(), file=sys.stderr)
                continue
            value = msg.value()
            magic, schema_id = struct.unpack(">bI", value[:5])
            if magic != 0:
                print("record %d: magic byte %d" % (msg.offset(), magic), file=sys.stderr)
                return 1
            record = deserializer(value, SerializationContext(topic, MessageField.VALUE))
            print(json.dumps({
                "key": msg.key().decode() if msg.key() else None,
                "schema_id": schema_id,
                "record": jsonable(record),
            }, sort_keys=True))
            decoded += 1
    finally:
        consumer.close()
    if decoded < count:
        print("decoded %d of %d records within %.0fs" % (decoded, count, timeout), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
