"""edp.platform's example pipeline: make a data set, aggregate it with Spark, check the answer.

Shipped by the spark role, one file for both targets; the platform's environment says which:

* local target (EDP_TARGET=local): the role puts this file in the tenant's dags folder; the Spark
  step is SparkSubmitOperator in local mode (connection edp_spark_local, the tenant's
  spark-submit on Airflow's PATH, the job in EDP_SPARK_EXAMPLE_JOB).
* Kubernetes (EDP_TARGET=kubernetes): copy this file and edp_spark_example_app.yaml from the
  ConfigMap spark-example into the DAG folder or repository (roles/spark/README.md). The Spark
  step is SparkKubernetesOperator with that SparkApplication (spark-operator runs it); it follows
  the driver's log and fails when the application fails. The data are on the volume
  EDP_SPARK_EXAMPLE_CLAIM, mounted by the Python tasks (pod_override) and the Spark pods alike.

make_input writes ROWS JSON lines of {"key", "value"} into a folder of this run; aggregate counts
and sums them per key with Spark; check_output recomputes the answer from the input and fails
the run when Spark's differs.
"""

from __future__ import annotations

import json
import os
import pathlib
import random
import re

import pendulum
from airflow.sdk import dag, get_current_context, task

TARGET = os.environ.get("EDP_TARGET", "local")
DATA = os.environ.get("EDP_SPARK_EXAMPLE_DATA", "/tmp/edp-spark-example")
ROWS = 20000
KEYS = 12

# The Spark step's arguments: the folders make_input returned (Airflow renders them).
ARGUMENTS = ["--input", "{{ ti.xcom_pull(task_ids='make_input')['input'] }}",
             "--output", "{{ ti.xcom_pull(task_ids='make_input')['output'] }}"]

if TARGET == "kubernetes":
    from kubernetes.client import models as k8s

    # The KubernetesExecutor's pod of each Python task mounts the example volume where Spark's do.
    EXECUTOR_CONFIG = {"pod_override": k8s.V1Pod(spec=k8s.V1PodSpec(
        containers=[k8s.V1Container(name="base", volume_mounts=[
            k8s.V1VolumeMount(name="example-data", mount_path=DATA)])],
        volumes=[k8s.V1Volume(name="example-data", persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(
            claim_name=os.environ.get("EDP_SPARK_EXAMPLE_CLAIM", "spark-example-data")))]))}
else:
    EXECUTOR_CONFIG = {}


def spark_step():
    if TARGET == "kubernetes":
        from airflow.providers.cncf.kubernetes.operators.spark_kubernetes import SparkKubernetesOperator

        # Airflow renders the file (a template: the arguments), the operator creates the
        # SparkApplication, follows the driver's log, fails when the application fails and
        # deletes it at the end.
        return SparkKubernetesOperator(
            task_id="aggregate", namespace=os.environ.get("EDP_NAMESPACE", "default"),
            application_file="edp_spark_example_app.yaml", in_cluster=True, get_logs=True,
            delete_on_termination=True)
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    return SparkSubmitOperator(
        task_id="aggregate", conn_id="edp_spark_local", name="edp-spark-example",
        application=os.environ.get("EDP_SPARK_EXAMPLE_JOB", "edp_spark_example_job.py"),
        application_args=ARGUMENTS)


def read_lines(folder):
    for path in sorted(pathlib.Path(folder).glob("part-*")):
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    yield json.loads(line)


@dag(dag_id="edp_spark_example", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
     catchup=False, max_active_runs=1, tags=["edp", "spark", "example"],
     doc_md=__doc__)
def edp_spark_example():
    @task(executor_config=EXECUTOR_CONFIG)
    def make_input() -> dict:
        run_id = get_current_context()["run_id"]
        # Hadoop paths take no ':' or '+': a folder name of letters, digits, '.', '_' and '-'.
        folder = pathlib.Path(DATA) / re.sub(r"[^A-Za-z0-9._-]", "_", run_id)
        (folder / "input").mkdir(parents=True, exist_ok=True)
        # Spark runs as another user on Kubernetes: it must create the output folder here.
        os.chmod(folder, 0o777)
        generator = random.Random(run_id)
        with open(folder / "input" / "part-00000.json", "w", encoding="utf-8") as out:
            for _ in range(ROWS):
                out.write(json.dumps({"key": "k%02d" % generator.randrange(KEYS),
                                      "value": generator.randrange(1000)}) + "\n")
        return {"input": str(folder / "input"), "output": str(folder / "output")}

    @task(executor_config=EXECUTOR_CONFIG)
    def check_output(paths: dict) -> dict:
        want = {}
        for row in read_lines(paths["input"]):
            count, total = want.get(row["key"], (0, 0))
            want[row["key"]] = (count + 1, total + row["value"])
        got = {row["key"]: (row["count"], row["total"]) for row in read_lines(paths["output"])}
        if got != want:
            wrong = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
            raise ValueError("Spark's answer differs from the input for keys %s: got %s, want %s" % (
                wrong, {k: got.get(k) for k in wrong}, {k: want.get(k) for k in wrong}))
        return {"keys": len(got), "rows": sum(count for count, _ in got.values())}

    paths = make_input()
    aggregate = spark_step()
    paths >> aggregate >> check_output(paths)


edp_spark_example()
