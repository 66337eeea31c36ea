# Plans the synthesized stack with no AWS access (see test/stack/terraform.test.ts):
# the provider gets dummy credentials and closed endpoints from an override file,
# and the one data source that would call AWS is overridden here.

override_data {
  target = data.aws_caller_identity.current
  values = {
    account_id = "123456789012"
    arn        = "arn:aws:iam::123456789012:user/plan"
    user_id    = "AIDAPLANPLANPLANPLAN"
  }
}

run "defaults" {
  command = plan

  assert {
    condition     = length(aws_s3_bucket.input.bucket_prefix) > 0 && aws_s3_bucket.staging.force_destroy && aws_s3_bucket.output.force_destroy
    error_message = "buckets must be named by prefix and emptied on destroy by default"
  }
  assert {
    condition = alltrue([
      for c in [aws_s3_bucket_server_side_encryption_configuration.input, aws_s3_bucket_server_side_encryption_configuration.staging, aws_s3_bucket_server_side_encryption_configuration.output] :
      one(c.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "AES256" && !one(c.rule).bucket_key_enabled
    ])
    error_message = "without kms_key_arn every bucket must use SSE-S3"
  }
  assert {
    condition     = length([for s in data.aws_iam_policy_document.prepare_permissions.statement : s if s.sid == "UseBucketKeyThroughS3"]) == 0
    error_message = "without kms_key_arn the roles must not mention KMS"
  }
  assert {
    condition     = aws_lambda_function.generate.reserved_concurrent_executions == -1 && aws_lambda_function.prepare.reserved_concurrent_executions == -1
    error_message = "no function may reserve account concurrency"
  }
  assert {
    condition = (
      aws_lambda_event_source_mapping.generate_queue.scaling_config[0].maximum_concurrency == 4 &&
      aws_lambda_event_source_mapping.generate_queue.batch_size == 1 &&
      aws_lambda_event_source_mapping.prepare_queue.scaling_config[0].maximum_concurrency == 10 &&
      aws_lambda_event_source_mapping.prepare_queue.batch_size == 5 &&
      toset(aws_lambda_event_source_mapping.prepare_queue.function_response_types) == toset(["ReportBatchItemFailures"])
    )
    error_message = "generate must take one job at a time with at most 4 in flight, prepare batches of 5 with at most 10"
  }
  assert {
    condition = (
      aws_sqs_queue.prepare_queue.visibility_timeout_seconds == 360 && aws_sqs_queue.generate_queue.visibility_timeout_seconds == 1800 &&
      aws_sqs_queue.prepare_queue.message_retention_seconds == 1209600 && aws_sqs_queue.generate_queue.message_retention_seconds == 1209600 &&
      aws_sqs_queue.prepare_queue.sqs_managed_sse_enabled && aws_sqs_queue.generate_queue.sqs_managed_sse_enabled
    )
    error_message = "the stage queues must keep messages 14 days, SSE-SQS, invisible for 6x the function timeout"
  }
  # The functions' environments (POWERTOOLS_TRACE_ENABLED among them) and the redrive policies name resources not known until apply:
  # their values are checked on the synthesized JSON (stack.test.ts) and on moto (the rehearsal).
  assert {
    condition     = aws_cloudwatch_metric_alarm.model_calls.threshold == 2880 && aws_cloudwatch_metric_alarm.prepare_queue.threshold == 86400
    error_message = "the model-call alarm must default to the ceiling and the queue-age alarms to a day"
  }
  assert {
    condition     = length(aws_budgets_budget.monthly) == 0
    error_message = "no budget without monthly_budget_usd"
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.staging.rule[0].expiration[0].days == 7
    error_message = "staged files must expire after 7 days"
  }
  assert {
    condition     = aws_s3_bucket_versioning.output.versioning_configuration[0].status == "Enabled" && length(aws_s3_bucket_versioning.output.versioning_configuration) == 1
    error_message = "the output bucket must be versioned"
  }
  assert {
    condition = (
      one(aws_s3_bucket_lifecycle_configuration.output.rule).noncurrent_version_expiration[0].noncurrent_days == 30 &&
      one(aws_s3_bucket_lifecycle_configuration.output.rule).abort_incomplete_multipart_upload[0].days_after_initiation == 1
    )
    error_message = "replaced results must stay recoverable for 30 days, and unfinished uploads be aborted after a day"
  }
  assert {
    condition     = aws_cloudwatch_log_group.prepare.retention_in_days == 30 && aws_cloudwatch_log_group.generate.retention_in_days == 30
    error_message = "logs must be kept 30 days"
  }
  assert {
    condition     = length(aws_sns_topic.dead_letters) == 0 && length(aws_sns_topic_subscription.dead_letters) == 0 && length(aws_kms_key.dead_letters) == 0
    error_message = "without alarm_email there must be no topic and no topic key"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.dead_letters.threshold == 0 && aws_cloudwatch_metric_alarm.dead_letters.comparison_operator == "GreaterThanThreshold"
    error_message = "the alarm must fire on the first dead letter"
  }
  assert {
    condition     = aws_sqs_queue.dead_letters.sqs_managed_sse_enabled
    error_message = "the dead-letter queue must be encrypted"
  }
  assert {
    condition = alltrue([
      for f in [aws_lambda_function.prepare, aws_lambda_function.generate] :
      f.logging_config[0].log_format == "JSON" && f.logging_config[0].application_log_level == "INFO" && f.logging_config[0].system_log_level == "WARN" &&
      f.tracing_config[0].mode == "PassThrough"
    ])
    error_message = "both functions must log JSON at INFO and not trace by default"
  }
  assert {
    condition = alltrue([
      for doc in [data.aws_iam_policy_document.prepare_permissions, data.aws_iam_policy_document.generate_permissions] :
      length([for s in doc.statement : s if s.sid == "WriteTraces"]) == 0
    ])
    error_message = "without tracing_enabled the roles must not mention X-Ray"
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.failure_ratio.threshold == 0.2 &&
      alltrue([for q in aws_cloudwatch_metric_alarm.failure_ratio.metric_query : q.metric[0].period == 3600 if length(q.metric) > 0]) &&
      aws_cloudwatch_metric_alarm.model_throttles.evaluation_periods == 3 && aws_cloudwatch_metric_alarm.generate_errors.datapoints_to_alarm == 3
    )
    error_message = "the failure-ratio alarm must default to 0.2 over an hour, the throttling and error alarms to 3 periods"
  }
  assert {
    condition     = aws_cloudwatch_dashboard.pipeline.dashboard_name == "icp-pipeline" && length(jsondecode(aws_cloudwatch_dashboard.pipeline.dashboard_body).widgets) == 12
    error_message = "the dashboard must be named after name_prefix and hold its widgets"
  }
  assert {
    condition     = aws_cloudwatch_query_definition.upload_story.name == "icp/story of one upload" && length(aws_cloudwatch_query_definition.failures_by_reason.log_group_names) == 2
    error_message = "the saved queries must be named after name_prefix and read both log groups"
  }
}

run "tracing_and_debug_logs" {
  command = plan

  variables {
    tracing_enabled        = true
    log_level              = "DEBUG"
    failure_ratio_alarm    = 0.05
    failure_ratio_window_s = 900
  }

  assert {
    condition = alltrue([
      for f in [aws_lambda_function.prepare, aws_lambda_function.generate] :
      f.tracing_config[0].mode == "Active" && f.logging_config[0].application_log_level == "DEBUG"
    ])
    error_message = "tracing_enabled must turn on active tracing, log_level set the application log level"
  }
  assert {
    condition = alltrue([
      for doc in [data.aws_iam_policy_document.prepare_permissions, data.aws_iam_policy_document.generate_permissions] :
      [
        for s in [for s in doc.statement : s if s.sid == "WriteTraces"] :
        toset(s.actions) == toset(["xray:PutTelemetryRecords", "xray:PutTraceSegments"]) && toset(s.resources) == toset(["*"])
      ] == [true]
    ])
    error_message = "with tracing_enabled both roles must be allowed X-Ray's two write actions"
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.failure_ratio.threshold == 0.05 &&
      alltrue([for q in aws_cloudwatch_metric_alarm.failure_ratio.metric_query : q.metric[0].period == 900 if length(q.metric) > 0])
    )
    error_message = "failure_ratio_alarm and failure_ratio_window_s must be applied"
  }
}

run "queues_follow_their_variables" {
  command = plan

  variables {
    prepare_timeout_s         = 120
    generate_timeout_s        = 600
    max_receive_count         = 1
    max_model_calls_in_flight = 20
    prepare_max_concurrency   = 2
    model_call_min_seconds    = 0
    queue_age_alarm_s         = 3600
  }

  assert {
    condition     = aws_sqs_queue.prepare_queue.visibility_timeout_seconds == 720 && aws_sqs_queue.generate_queue.visibility_timeout_seconds == 3600
    error_message = "a queue's visibility timeout must follow its function's timeout"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.generate_queue.scaling_config[0].maximum_concurrency == 20 && aws_lambda_event_source_mapping.prepare_queue.scaling_config[0].maximum_concurrency == 2
    error_message = "the maximum concurrencies must follow their variables"
  }
  assert {
    condition     = output.max_model_calls_per_hour == null && output.max_images_per_hour == null && output.max_usd_per_hour == null
    error_message = "model_call_min_seconds = 0 means no pacing and no ceiling"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.generate_queue.threshold == 3600
    error_message = "queue_age_alarm_s must be applied"
  }
}

run "kms_key_and_alarm_email" {
  command = plan

  variables {
    kms_key_arn                   = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    alarm_email                   = "ops@example.com"
    staging_expiration_days       = 2
    log_retention_days            = 14
    monthly_budget_usd            = 500

    output_noncurrent_version_expiration_days = 90
  }

  assert {
    condition = alltrue([
      for c in [aws_s3_bucket_server_side_encryption_configuration.input, aws_s3_bucket_server_side_encryption_configuration.staging, aws_s3_bucket_server_side_encryption_configuration.output] :
      one(c.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms" &&
      one(c.rule).apply_server_side_encryption_by_default[0].kms_master_key_id == var.kms_key_arn &&
      one(c.rule).bucket_key_enabled
    ])
    error_message = "with kms_key_arn every bucket must use SSE-KMS with that key and a bucket key"
  }
  assert {
    condition = alltrue([
      for doc in [data.aws_iam_policy_document.prepare_permissions, data.aws_iam_policy_document.generate_permissions] :
      # Filter on the sid first: the other statements' resources are not known until apply.
      [
        for s in [for s in doc.statement : s if s.sid == "UseBucketKeyThroughS3"] :
        toset(s.actions) == toset(["kms:Decrypt", "kms:GenerateDataKey"]) && toset(s.resources) == toset([var.kms_key_arn])
      ] == [true]
    ])
    error_message = "with kms_key_arn both roles must be allowed to use exactly that key"
  }
  assert {
    condition = (
      length(aws_budgets_budget.monthly) == 1 && aws_budgets_budget.monthly[0].budget_type == "COST" && aws_budgets_budget.monthly[0].limit_amount == "500" &&
      toset([for n in aws_budgets_budget.monthly[0].notification : n.threshold]) == toset([80, 100]) &&
      alltrue([for n in aws_budgets_budget.monthly[0].notification : toset(n.subscriber_email_addresses) == toset(["ops@example.com"])])
    )
    error_message = "monthly_budget_usd with alarm_email must create a budget that mails at 80 % and 100 %"
  }
  assert {
    condition     = length(aws_sns_topic.dead_letters) == 1 && aws_sns_topic_subscription.dead_letters[0].endpoint == "ops@example.com" && aws_sns_topic_subscription.dead_letters[0].protocol == "email"
    error_message = "alarm_email must create the topic and an e-mail subscription"
  }
  assert {
    condition     = length(aws_kms_key.dead_letters) == 1 && aws_kms_key.dead_letters[0].enable_key_rotation && aws_kms_key.dead_letters[0].deletion_window_in_days == 7
    error_message = "alarm_email must create a rotated key for the topic"
  }
  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.dead_letters_topic_key_policy.statement :
      s.sid != "CloudWatchAlarmsPublish" || (
        toset(s.actions) == toset(["kms:Decrypt", "kms:GenerateDataKey*"]) &&
        toset(flatten([for p in s.principals : p.identifiers])) == toset(["cloudwatch.amazonaws.com"])
      )
    ])
    error_message = "CloudWatch must be allowed to use the topic key, and only for encrypting alarm messages"
  }
  assert {
    condition     = one(aws_s3_bucket_lifecycle_configuration.output.rule).noncurrent_version_expiration[0].noncurrent_days == 90
    error_message = "output_noncurrent_version_expiration_days must be applied"
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.staging.rule[0].expiration[0].days == 2 && aws_cloudwatch_log_group.generate.retention_in_days == 14
    error_message = "staging_expiration_days and log_retention_days must be applied"
  }
}

run "rejects_bad_values" {
  command = plan

  variables {
    kms_key_arn                   = "alias/my-key"
    alarm_email                   = "not-an-address"
    max_model_calls_in_flight     = 1
    prepare_max_concurrency       = 1001
    max_receive_count             = 0
    model_call_min_seconds        = 61
    model_calls_alarm_per_hour    = 0
    queue_age_alarm_s             = 30
    monthly_budget_usd            = -1
    staging_expiration_days       = 0
    log_retention_days            = 10
    generate_timeout_s            = 1000
    name_prefix                   = "Bad_Prefix"
    default_count                 = 6
    log_level                     = "VERBOSE"
    failure_ratio_alarm           = 0
    failure_ratio_window_s        = 90

    output_noncurrent_version_expiration_days = 0
  }

  expect_failures = [
    var.kms_key_arn,
    var.alarm_email,
    var.max_model_calls_in_flight,
    var.prepare_max_concurrency,
    var.max_receive_count,
    var.model_call_min_seconds,
    var.model_calls_alarm_per_hour,
    var.queue_age_alarm_s,
    var.monthly_budget_usd,
    var.staging_expiration_days,
    var.log_retention_days,
    var.generate_timeout_s,
    var.name_prefix,
    var.default_count,
    var.log_level,
    var.failure_ratio_alarm,
    var.failure_ratio_window_s,
    var.output_noncurrent_version_expiration_days,
  ]
}
