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
    condition     = aws_lambda_function.generate.reserved_concurrent_executions == 4 && aws_lambda_function.prepare.reserved_concurrent_executions == -1
    error_message = "generate must reserve 4 concurrent executions and prepare none"
  }
  assert {
    condition     = aws_lambda_function_event_invoke_config.generate.maximum_retry_attempts == 2 && aws_lambda_function_event_invoke_config.prepare.maximum_event_age_in_seconds == 3600
    error_message = "async invocations must be retried twice and given up after an hour"
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
}

run "kms_key_and_alarm_email" {
  command = plan

  variables {
    kms_key_arn                   = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    alarm_email                   = "ops@example.com"
    generate_reserved_concurrency = -1
    staging_expiration_days       = 2
    log_retention_days            = 14
    maximum_retry_attempts        = 0

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
    condition     = aws_lambda_function.generate.reserved_concurrent_executions == -1
    error_message = "-1 must leave generate unreserved"
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
  assert {
    condition     = aws_lambda_function_event_invoke_config.prepare.maximum_retry_attempts == 0
    error_message = "maximum_retry_attempts must be applied"
  }
}

run "rejects_bad_values" {
  command = plan

  variables {
    kms_key_arn                   = "alias/my-key"
    alarm_email                   = "not-an-address"
    generate_reserved_concurrency = 0
    staging_expiration_days       = 0
    log_retention_days            = 10
    maximum_retry_attempts        = 3
    maximum_event_age_s           = 30
    generate_timeout_s            = 1000
    name_prefix                   = "Bad_Prefix"
    default_count                 = 6

    output_noncurrent_version_expiration_days = 0
  }

  expect_failures = [
    var.kms_key_arn,
    var.alarm_email,
    var.generate_reserved_concurrency,
    var.staging_expiration_days,
    var.log_retention_days,
    var.maximum_retry_attempts,
    var.maximum_event_age_s,
    var.generate_timeout_s,
    var.name_prefix,
    var.default_count,
    var.output_noncurrent_version_expiration_days,
  ]
}
