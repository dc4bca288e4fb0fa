"""Check and insert handlers against the real bqemulator (behind the stand-in proxy); credentials; SQL templates."""

from __future__ import annotations

import json
from datetime import date

import boto3
import pytest
from weekly_batch import bigquery as bq
from weekly_batch.errors import (
    BigQueryAuthFailed,
    BigQueryCredentialsInvalid,
    BigQueryNotConfigured,
    BigQueryQuotaExceeded,
    BigQueryRejected,
    BigQueryTimeout,
    BigQueryUnavailable,
    InvalidTargetDate,
    MissingSetting,
    SqlTemplateMissing,
)
from weekly_batch.handlers import check, insert, plan
from weekly_batch.settings import BigQuerySettings
from weekly_batch.sql_templates import COUNT_ROWS, WEEKLY_INSERT, load

from tests.unit.weekly_batch.conftest import load_event


def test_check_counts_the_target_dates_rows(bigquery, lambda_context):
    # GIVEN the source holds 5 rows for the date when the check comes
    bigquery.configure(rows=5)
    assert check.handler({"targetDate": "2026-10-07"}, lambda_context) == {"rows": 5}
    # the count is parameterised: the query carried the date as a DATE parameter
    assert bigquery.queries[-1]["parameters"] == {"target_date": "2026-10-07"}


def test_the_weekly_merge_run_twice_leaves_the_same_rows(bigquery, lambda_context):
    # GIVEN the week 2026-10-01..07 in the source (3 users on the 7th, 2 users on each earlier day)
    bigquery.configure(rows=3)
    bigquery.set_rows(date(2026, 10, 7), 3)
    event = {"weekStart": "2026-10-01", "weekEnd": "2026-10-07"}
    # WHEN the insert runs twice
    first = insert.handler(event, lambda_context)
    rows_after_first = bigquery.target_rows(date(2026, 10, 1))
    second = insert.handler(event, lambda_context)
    # THEN the target holds the same rows after each run: one per user, with the week's totals
    assert rows_after_first == bigquery.target_rows(date(2026, 10, 1))
    assert [row[2:] for row in rows_after_first] == [("u1", 7, 61), ("u2", 7, 62), ("u3", 1, 3)]
    assert first["rowsAffected"] == second["rowsAffected"] == 3


def test_a_user_who_left_the_source_leaves_the_week(bigquery, lambda_context):
    bigquery.set_rows(date(2026, 9, 30), 3)
    event = {"weekStart": "2026-09-24", "weekEnd": "2026-09-30"}
    insert.handler(event, lambda_context)
    bigquery.set_rows(date(2026, 9, 30), 1)  # u2 and u3's rows on the 30th corrected away
    insert.handler(event, lambda_context)
    assert [row[2] for row in bigquery.target_rows(date(2026, 9, 24))] == ["u1", "u2"]  # u3 only had the 30th


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("5xx", BigQueryUnavailable),
        ("auth", BigQueryAuthFailed),
        ("quota", BigQueryQuotaExceeded),
        ("timeout", BigQueryTimeout),
        ("4xx", BigQueryRejected),
        ("garbage", BigQueryUnavailable),  # a 200 that is not BigQuery's JSON: a proxy or portal in the way
        ("crash", BigQueryUnavailable),  # without the sandbox's runtime to kill the caller, the stand-in hangs up
    ],
)
def test_bigquery_failures_are_named_errors(bigquery, lambda_context, mode, error):
    bigquery.configure(fail_mode=mode, fail_times=1, slow_seconds=3)
    with pytest.raises(error):
        check.handler({"targetDate": "2026-10-07"}, lambda_context)
    assert check.handler({"targetDate": "2026-10-07"}, lambda_context)["rows"] == 3  # one failure, then fine


def test_a_missing_target_table_is_rejected_not_retried(bigquery, lambda_context):
    bigquery.drop_target_table()
    with pytest.raises(BigQueryRejected):
        insert.handler({"weekStart": "2026-10-01", "weekEnd": "2026-10-07"}, lambda_context)


@pytest.mark.parametrize(
    "event", [{"weekStart": "2026-10-01", "weekEnd": "2026-10-08"}, {"weekStart": "x", "weekEnd": "2026-10-07"}, {}]
)
def test_insert_refuses_anything_but_a_seven_day_week(bigquery, lambda_context, event):
    with pytest.raises(InvalidTargetDate):
        insert.handler(event, lambda_context)
    assert bigquery.queries == []


def test_plan_resolves_a_scheduled_run(monkeypatch, lambda_context):
    monkeypatch.setenv("BUSINESS_TIMEZONE", "Asia/Tokyo")
    monkeypatch.setenv("GUARD_TTL_DAYS", "35")
    result = plan.handler(load_event("scheduled"), lambda_context)
    assert result["targetDate"] == "2026-11-25" and result["weekStart"] == "2026-11-19"
    assert result["rerunnableStatus"] == "NONE" and int(result["guardExpiresAt"]) > 0
    # only the plan: the loop's counter and the notices are the definition's variables
    assert set(result) == {"targetDate", "weekStart", "weekEnd", "rerunnableStatus", "guardExpiresAt"}
    rerun = plan.handler(load_event("manual_rerun"), lambda_context)
    assert rerun["targetDate"] == "2026-11-18" and rerun["rerunnableStatus"] == "FAILED"


def test_a_rerun_flag_that_is_not_true_is_no_rerun(monkeypatch, lambda_context):
    monkeypatch.setenv("BUSINESS_TIMEZONE", "Asia/Tokyo")
    result = plan.handler({"input": {"targetDate": "2026-11-18", "rerun": "yes"}}, lambda_context)
    assert result["rerunnableStatus"] == "NONE"


# ---- credentials ----------------------------------------------------------------------------

WIF_CONFIG = {
    "type": "external_account",
    "audience": "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/aws-pool/providers/aws",
    "subject_token_type": "urn:ietf:params:aws:token-type:aws4_request",
    "token_url": "https://sts.googleapis.com/v1/token",
    "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/batch@p.iam.gserviceaccount.com:generateAccessToken",
    "credential_source": {
        "environment_id": "aws1",
        "regional_cred_verification_url": "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
    },
}


def test_workload_identity_federation_config_gives_aws_federated_credentials():
    from google.auth import aws

    credentials = bq.credentials_from_secret("workload_identity_federation", json.dumps(WIF_CONFIG))
    assert isinstance(credentials, aws.Credentials)


def _service_account_key() -> dict:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return {
        "type": "service_account",
        "project_id": "p",
        "private_key_id": "1",
        "private_key": pem,
        "client_email": "batch@p.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


def test_a_service_account_key_gives_service_account_credentials():
    from google.oauth2 import service_account

    credentials = bq.credentials_from_secret("service_account_key", json.dumps(_service_account_key()))
    assert isinstance(credentials, service_account.Credentials)


@pytest.mark.parametrize(
    ("mode", "secret"),
    [
        ("workload_identity_federation", "not json"),
        ("workload_identity_federation", json.dumps({"type": "service_account"})),
        ("service_account_key", json.dumps(WIF_CONFIG)),
        ("service_account_key", json.dumps({"type": "service_account"})),
    ],
)
def test_a_secret_of_the_wrong_kind_is_a_named_error_without_its_content(mode, secret):
    with pytest.raises(BigQueryCredentialsInvalid) as caught:
        bq.credentials_from_secret(mode, secret)
    assert "BEGIN PRIVATE KEY" not in str(caught.value)


def test_settings_refuse_identifiers_that_could_change_the_sql(monkeypatch):
    for key, value in {
        "BIGQUERY_PROJECT": "p",
        "BIGQUERY_DATASET": "d",
        "BIGQUERY_SOURCE_TABLE": "events` WHERE 1=1 --",
        "BIGQUERY_TARGET_TABLE": "t",
        "BIGQUERY_CREDENTIALS": "anonymous",
    }.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(MissingSetting):
        BigQuerySettings.from_env()


# ---- SQL templates --------------------------------------------------------------------------


def _settings(**overrides) -> BigQuerySettings:
    values = dict(
        project="p",
        dataset="d",
        source_table="events",
        target_table="weekly_summary",
        location="",
        api_endpoint="",
        credentials="anonymous",
        credentials_secret_name="",
        query_timeout_s=5,
        sql_bucket="",
        sql_prefix="",
    )
    return BigQuerySettings(**{**values, **overrides})


def test_packaged_templates_render_identifiers_and_keep_values_as_parameters():
    count = load(COUNT_ROWS, _settings(), s3_client=lambda: None)
    merge = load(WEEKLY_INSERT, _settings(), s3_client=lambda: None)
    assert "`p.d.events`" in count and "@target_date" in count and "${" not in count
    assert merge.strip().endswith("DELETE") and "@week_start" in merge and "`p.d.weekly_summary`" in merge


def test_templates_can_come_from_s3(aws):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="sql-bucket")
    s3.put_object(
        Bucket="sql-bucket", Key="weekly-batch/sql/count_rows.sql", Body=b"SELECT 1 FROM `${project}.${dataset}.${source_table}`"
    )
    settings = _settings(sql_bucket="sql-bucket", sql_prefix="weekly-batch/sql/")
    assert load(COUNT_ROWS, settings, s3_client=lambda: s3) == "SELECT 1 FROM `p.d.events`"
    with pytest.raises(SqlTemplateMissing):
        load(WEEKLY_INSERT, settings, s3_client=lambda: s3)


def test_an_unconfigured_project_is_a_named_error_naming_the_setting(bigquery, lambda_context, monkeypatch):
    # GIVEN the stack deployed with the shipped placeholder project
    monkeypatch.setenv("BIGQUERY_PROJECT", "NOT-CONFIGURED")
    monkeypatch.setenv("BIGQUERY_PROJECT_SETTING", "weekly_batch.bigquery.project")
    # THEN the check fails at once, naming where to set it, without calling BigQuery
    with pytest.raises(BigQueryNotConfigured, match=r"^weekly_batch\.bigquery\.project is the placeholder"):
        check.handler({"targetDate": "2026-10-07"}, lambda_context)
    assert bigquery.queries == []


def test_a_missing_credentials_secret_is_a_named_error(bigquery, lambda_context, monkeypatch, aws):
    monkeypatch.setenv("BIGQUERY_CREDENTIALS", "workload_identity_federation")
    monkeypatch.setenv("BIGQUERY_CREDENTIALS_SECRET_NAME", "weekly-batch/bigquery/credentials")
    with pytest.raises(BigQueryCredentialsInvalid, match="cannot be read"):
        check.handler({"targetDate": "2026-10-07"}, lambda_context)
