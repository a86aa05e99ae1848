"""The Spark step of edp.platform's example pipeline: count and sum the values of every key.

    edp_spark_example_job.py --input DIR --output DIR
        Read DIR's JSON lines ({"key": ..., "value": <integer>}), write one JSON line per key
        ({"key", "count", "total"}) into the output folder (replaced if it exists).
    edp_spark_example_job.py --self-test
        Make a data set in Spark, aggregate it the same way and compare Spark's answer with
        one computed here; exit 1 when they differ (the smoke-test SparkApplication).

Shipped by the spark role (ConfigMap spark-example on Kubernetes, the tenant's data/spark/jobs
on the local target); run by spark-submit, never imported by Airflow.
"""

import argparse
import json
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def aggregate(frame):
    return (frame.groupBy("key")
            .agg(F.count(F.lit(1)).alias("count"), F.sum("value").alias("total"))
            .orderBy("key"))


def self_test(spark, rows=200000, keys=7):
    frame = spark.range(rows).select((F.col("id") % keys).cast("string").alias("key"), F.col("id").alias("value"))
    got = {row["key"]: (row["count"], row["total"]) for row in aggregate(frame).collect()}
    want = {}
    for value in range(rows):
        count, total = want.get(str(value % keys), (0, 0))
        want[str(value % keys)] = (count + 1, total + value)
    print("EDP_RESULT %s" % json.dumps({"keys": len(got), "rows": sum(c for c, _ in got.values()),
                                        "as_expected": got == want}, sort_keys=True), flush=True)
    return got == want


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input")
    parser.add_argument("--output")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args(argv)
    if not args.self_test and not (args.input and args.output):
        parser.error("--input and --output, or --self-test")
    name = "edp-spark-smoke-test" if args.self_test else "edp-spark-example"
    spark = SparkSession.builder.appName(name).getOrCreate()
    try:
        if args.self_test:
            return 0 if self_test(spark) else 1
        result = aggregate(spark.read.schema("key STRING, value LONG").json(args.input))
        result.coalesce(1).write.mode("overwrite").json(args.output)
        summary = result.agg(F.count(F.lit(1)).alias("keys"), F.sum("count").alias("rows")).first()
        print("EDP_RESULT %s" % json.dumps({"keys": summary["keys"], "rows": summary["rows"],
                                            "output": args.output}, sort_keys=True), flush=True)
        return 0
    finally:
        spark.stop()


if __name__ == "__main__":
    sys.exit(main())
