"""Runtime patches of moto 5.2.5's Step Functions interpreter (see sandbox/engine/__init__.py).

Each function here replaces one method of a moto class with a version that has AWS's semantics:

* ``DistributedIterationComponent._map_run``: ItemBatcher batches, tolerated failure
  count/percentage applied over *items* (States.ExceedToleratedFailureThreshold), Map Run log;
* ``DistributedItemProcessorWorker._eval_job``: one child execution, recorded (type, status,
  input, output, error, duration, transitions) with its own history;
* item reader ``ResourceEvalS3._handle_list_objects_v2``: every page, items shaped like AWS's;
* result writer ``ResourceEvalS3._handle_put_object``: manifest.json + SUCCEEDED_0.json /
  FAILED_0.json like AWS (a JSONata Map's writer, which moto cannot parse, is run by ``map_run``).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType, MapRunFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent, FailureEventException
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import EvalTimeoutError
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import JobPool
from moto.stepfunctions.parser.asl.component.state.exec.state_map.max_concurrency import DEFAULT_MAX_CONCURRENCY_VALUE
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.eval.program_state import ProgramError, ProgramStopped, ProgramTimedOut
from moto.stepfunctions.parser.asl.eval.states import ItemData, MapData
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.json_path import extract_json

from sandbox.engine import records
from sandbox.engine.batching import BatchingError, make_batches, resolve_template
from sandbox.engine.definition import MapExtension
from sandbox.execution import retries_by_state

EXCEED_THRESHOLD = "States.ExceedToleratedFailureThreshold"


def _fail(error: str, cause: str, env: Any) -> FailureEventException:
    return FailureEventException(failure_event=FailureEvent(
        env=env,
        error_name=StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold)
        if error == EXCEED_THRESHOLD else StatesErrorName(typ=StatesErrorNameType.StatesRuntime),
        event_type=HistoryEventType.MapRunFailed,
        event_details=EventDetails(mapRunFailedEventDetails=MapRunFailedEventDetails(error=error, cause=cause)),
    ))


def _path_int(batcher: dict[str, Any], key: str, data: Any, env: Any) -> int | None:
    if key in batcher:
        return int(batcher[key])
    if f"{key}Path" in batcher:
        value = extract_json(batcher[f"{key}Path"], data)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail("States.Runtime", f"ItemBatcher.{key}Path refers to {value!r}, not an integer", env)
        return value
    return None


def resolve_jsonata(value: Any, env: Any, location: str) -> Any:
    """``value`` with its "{% %}" strings evaluated as the JSONata state evaluates them."""
    from sandbox.engine import jsonata as sfn_jsonata
    from sandbox.engine.jsonata_states import _fail_evaluation, _variables

    if isinstance(value, dict):
        return {key: resolve_jsonata(inner, env, f"{location}/{key}") for key, inner in value.items()}
    if isinstance(value, list):
        return [resolve_jsonata(inner, env, location) for inner in value]
    expression = sfn_jsonata.expression_of(value)
    if expression is None:
        return value
    try:
        return sfn_jsonata.evaluate(expression.strip(), location=location, states=env.states._states_data,
                                    variables=_variables(env))
    except sfn_jsonata.QueryEvaluationError as error:
        raise _fail_evaluation(env, error) from None


def batch_items(ext: MapExtension, items: list[Any], env: Any) -> list[Any]:
    """The child inputs for ``items``: batches when the Map has an ItemBatcher, else the items."""
    if not ext.batcher:
        return items
    batcher = resolve_jsonata(ext.batcher, env, "ItemBatcher")  # a JSONata Map's "{% %}" fields
    map_input = env.states.get_input()
    context = env.states.context_object.context_object_data
    batch_input = None
    if "BatchInput" in batcher:
        batch_input = resolve_template(batcher["BatchInput"], map_input, context, extract_json)
    try:
        return make_batches(items,
                            max_items=_path_int(batcher, "MaxItemsPerBatch", map_input, env),
                            max_bytes=_path_int(batcher, "MaxInputBytesPerBatch", map_input, env),
                            batch_input=batch_input)
    except BatchingError as exc:
        raise _fail("States.Runtime", f"ItemBatcher: {exc}", env) from exc


def tolerance_exceeded(ext: MapExtension, *, failed_items: int, total_items: int,
                       tolerated_count: int, tolerated_percentage: float) -> bool:
    """AWS: the Map Run fails when failed items exceed either declared threshold; with neither
    declared, any failed item fails it."""
    if failed_items == 0:
        return False
    checks = []
    if ext.tolerated_count_declared:
        checks.append(failed_items > tolerated_count)
    if ext.tolerated_percentage_declared:
        checks.append(failed_items * 100.0 / max(total_items, 1) > tolerated_percentage)
    return any(checks) if checks else True


def _child_arn(map_run_arn: str, execution_type: str, name: str) -> str:
    # mapRun ARN: arn:aws:states:<region>:<account>:mapRun:<machine>/<label>:<id>
    head, _, _ = map_run_arn.rpartition(":")
    kind = "express" if execution_type == "EXPRESS" else "execution"
    return head.replace(":mapRun:", f":{kind}:", 1) + f":{name}"


def map_run(self: Any, env: Any, eval_input: Any) -> None:
    """Replacement of DistributedIterationComponent._map_run."""
    ext: MapExtension = getattr(self, "_sandbox_ext", None) or MapExtension(state=eval_input.state_name)
    items: list[Any] = env.stack.pop()
    job_inputs = batch_items(ext, items, env)
    record = eval_input.map_run_record
    context = env.states.context_object.context_object_data
    run = records.MapRunLog(map_run_arn=record.map_run_arn, execution_arn=context["Execution"]["Id"],
                            state_machine_arn=context["StateMachine"]["Id"], state=eval_input.state_name,
                            execution_type=ext.execution_type, item_count=len(items),
                            batched=bool(ext.batcher))
    records.register(run)

    job_pool = JobPool(job_program=self._get_iteration_program(), job_inputs=job_inputs)
    max_concurrency = record.max_concurrency
    workers = len(job_inputs) if max_concurrency == DEFAULT_MAX_CONCURRENCY_VALUE else max_concurrency
    for _ in range(min(workers, max(len(job_inputs), 1))):
        self._launch_worker(env=env, eval_input=eval_input, job_pool=job_pool)
    job_pool.await_jobs()
    worker_exception = job_pool.get_worker_exception()
    if worker_exception is not None:
        run.outcome = "FAILED"
        raise worker_exception

    run.failed_items = sum(child.items for child in run.children.values() if child.status != "SUCCEEDED")
    if tolerance_exceeded(ext, failed_items=run.failed_items, total_items=len(items),
                          tolerated_count=eval_input.tolerated_failure_count,
                          tolerated_percentage=eval_input.tolerated_failure_percentage):
        run.outcome = "FAILED"
        write_results_of_run(ext, run, env)  # AWS writes them for a failed Map Run too
        raise _fail(EXCEED_THRESHOLD, "The specified tolerated failure threshold was exceeded", env)
    run.outcome = "SUCCEEDED"
    if ext.writes_results:  # a JSONata Map's ResultWriter, which moto's parser did not see
        env.stack.append(write_results_of_run(ext, run, env))
    else:
        env.stack.append([closed.job_output for closed in job_pool.get_closed_jobs()])


def _items_in(job_input: Any, batched: bool) -> int:
    if batched and isinstance(job_input, dict) and isinstance(job_input.get("Items"), list):
        return len(job_input["Items"])
    return 1


def eval_job(self: Any, env: Any, job: Any) -> None:
    """Replacement of DistributedItemProcessorWorker._eval_job: one child execution, recorded."""
    record = self._map_run_record
    run = records.get(record.map_run_arn)
    execution_type = run.execution_type if run else "STANDARD"
    n_items = _items_in(job.job_input, bool(run and run.batched))
    name = str(uuid.uuid4())
    child = records.ChildExecution(index=job.job_index, name=name,
                                   arn=_child_arn(record.map_run_arn, execution_type, name),
                                   execution_type=execution_type, input=job.job_input, items=n_items,
                                   start=datetime.now(timezone.utc))
    if run is not None:
        run.children[job.job_index] = child
    record.item_counter.total.count(n_items)
    record.item_counter.running.count(n_items)
    record.execution_counter.total.count()
    record.execution_counter.running.count()

    env.event_manager = EventManager()  # the child's own history (counted for its transitions)
    job_output = None
    try:
        env.states.context_object.context_object_data["Map"] = MapData(
            Item=ItemData(Index=job.job_index, Value=job.job_input))
        env.states.reset(job.job_input)
        env.stack.append(env.states.get_input())
        self._eval_input(env_frame=env)
        child.input = env.states.get_input()
        job.job_program.eval(env)
        end_state = env.program_state()
        if isinstance(end_state, ProgramError):
            details = end_state.error or ExecutionFailedEventDetails()
            child.status, child.error, child.cause = "FAILED", details.get("error"), details.get("cause")
        elif isinstance(end_state, ProgramTimedOut):
            child.status, child.error = "TIMED_OUT", "States.Timeout"
        elif isinstance(end_state, ProgramStopped):
            child.status = "ABORTED"
        else:
            child.status = "SUCCEEDED"
            job_output = child.output = env.states.get_input()
    except EvalTimeoutError:
        child.status, child.error = "TIMED_OUT", "States.Timeout"
    except FailureEventException as exc:
        pair = exc.extract_error_cause_pair() or (None, None)
        child.status, child.error, child.cause = "FAILED", pair[0], pair[1]
    except Exception as exc:  # noqa: BLE001 - a child's runtime error is its failure, as in AWS
        child.status, child.error, child.cause = "FAILED", "States.Runtime", str(exc)
    finally:
        child.stop = datetime.now(timezone.utc)
        history = env.event_manager.get_event_history()
        child.transitions = sum(1 for event in history if str(event.get("type", "")).endswith("StateEntered"))
        child.entered = frozenset(event["stateEnteredEventDetails"]["name"] for event in history
                                  if "stateEnteredEventDetails" in event)
        child.lambda_invocations = sum(1 for event in history if str(event.get("type", "")).endswith("LambdaFunctionScheduled"))
        child.retries = retries_by_state(history)
        counter = {"SUCCEEDED": "succeeded", "FAILED": "failed", "TIMED_OUT": "timed_out",
                   "ABORTED": "aborted"}.get(child.status, "failed")
        getattr(record.item_counter, counter).count(n_items)
        getattr(record.execution_counter, counter).count()
        if child.status == "SUCCEEDED":
            record.item_counter.results_written.count(n_items)
            record.execution_counter.results_written.count()
        record.item_counter.running.offset(-n_items)
        record.execution_counter.running.offset(-1)
        job.job_output = job_output


# --------------------------------------------------------------------------- S3 reader / writer


def _epoch(value: Any) -> Any:
    return int(value.timestamp()) if isinstance(value, datetime) else value


def reader_item(obj: dict[str, Any]) -> dict[str, Any]:
    """A ListObjectsV2 `Contents` entry as the S3 ItemReader passes it to the Map (AWS's item shape)."""
    return {"Etag": obj.get("ETag"), "Key": obj["Key"], "LastModified": _epoch(obj.get("LastModified")),
            "Size": obj.get("Size"), "StorageClass": obj.get("StorageClass", "STANDARD")}


def list_objects_v2(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
    """Replacement of the ItemReader's s3:listObjectsV2: every page, AWS's item shape, [] when empty."""
    s3 = boto_client_for(region=resource_runtime_part.region, service="s3", state_credentials=state_credentials)
    parameters = dict(env.stack.pop())
    items: list[dict[str, Any]] = []
    while True:
        page = s3.list_objects_v2(**parameters)
        items.extend(reader_item(obj) for obj in page.get("Contents", []) or [])
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            break
        parameters["ContinuationToken"] = token
    env.stack.append(items)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z") if value else None


def result_entry(child: records.ChildExecution, state_machine_arn: str) -> dict[str, Any]:
    """One child execution as AWS writes it in SUCCEEDED_n.json / FAILED_n.json."""
    entry: dict[str, Any] = {
        "ExecutionArn": child.arn, "Input": json.dumps(child.input), "InputDetails": {"Included": True},
        "Name": child.name, "StartDate": _iso(child.start), "StateMachineArn": state_machine_arn,
        "Status": child.status, "StopDate": _iso(child.stop),
    }
    if child.status == "SUCCEEDED":
        entry.update({"Output": json.dumps(child.output), "OutputDetails": {"Included": True}})
    else:
        entry.update({"Error": child.error, "Cause": child.cause})
    return entry


def write_results(s3: Any, *, bucket: str, prefix: str, run: records.MapRunLog) -> str:
    """Write the Map Run's results as ResultWriter does; returns the manifest's key."""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    base = f"{prefix}{run.map_run_arn.rsplit(':', 1)[-1]}/"
    groups: dict[str, list[dict[str, Any]]] = {"SUCCEEDED": [], "FAILED": [], "PENDING": []}
    for child in run.ordered_children():
        group = "SUCCEEDED" if child.status == "SUCCEEDED" else "FAILED"
        groups[group].append(result_entry(child, run.state_machine_arn))
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for group, entries in groups.items():
        if not entries:
            continue
        body = json.dumps(entries).encode("utf-8")
        key = f"{base}{group}_0.json"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        files[group].append({"Key": key, "Size": len(body)})
    manifest = {"DestinationBucket": bucket, "MapRunArn": run.map_run_arn, "ResultFiles": files}
    key = f"{base}manifest.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest, indent=2).encode("utf-8"))
    return key


def write_results_of_run(ext: MapExtension, run: records.MapRunLog, env: Any) -> dict[str, Any] | None:
    """The ResultWriter's files for a Map Run whose writer moto does not evaluate (a run that failed its
    tolerance, or a JSONata writer), its Parameters or Arguments evaluated against the Map's input;
    returns the Map's result as AWS gives it ({"MapRunArn", "ResultWriterDetails"}), or None without a writer."""
    writer = ext.result_writer or {}
    if not str(writer.get("Resource", "")).endswith(":s3:putObject"):
        return None
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials import StateCredentials

    context = env.states.context_object.context_object_data
    if isinstance(writer.get("Parameters"), dict):
        parameters = resolve_template(writer["Parameters"], env.states.get_input(), context, extract_json)
    elif isinstance(writer.get("Arguments"), dict):  # a JSONata Map
        parameters = resolve_jsonata(writer["Arguments"], env, "ResultWriter/Arguments")
    else:
        return None
    region = run.execution_arn.split(":")[3]
    s3 = boto_client_for(region=region, service="s3",
                         state_credentials=StateCredentials(role_arn=env.aws_execution_details.role_arn))
    key = write_results(s3, bucket=parameters["Bucket"], prefix=parameters.get("Prefix", ""), run=run)
    return {"MapRunArn": run.map_run_arn, "ResultWriterDetails": {"Bucket": parameters["Bucket"], "Key": key}}


def put_object(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
    """Replacement of the ResultWriter's s3:putObject (moto writes an empty manifest only)."""
    parameters = env.stack.pop()
    env.stack.pop()  # the children's outputs: written from the Map Run log instead
    map_run_record = env.map_run_record_pool_manager.get_all()[-1]
    run = records.get(map_run_record.map_run_arn)
    if run is None:
        raise RuntimeError(f"no sandbox record of map run {map_run_record.map_run_arn}")
    s3 = boto_client_for(region=resource_runtime_part.region, service="s3", state_credentials=state_credentials)
    key = write_results(s3, bucket=parameters["Bucket"], prefix=parameters.get("Prefix", ""), run=run)
    env.stack.append({"MapRunArn": run.map_run_arn,
                      "ResultWriterDetails": {"Bucket": parameters["Bucket"], "Key": key}})
