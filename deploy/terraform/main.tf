# main.tf: quack as an AWS Lambda function from a container image (deploy/Dockerfile), with an
# execution role that may touch only the lake prefix, its own log group and, if asked, the
# functions it fans out to. The optional S3 trigger is in s3_trigger.tf.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  prefix   = trim(var.lake_prefix, "/")
  key_root = local.prefix == "" ? "" : "${local.prefix}/"
  lake_uri = local.prefix == "" ? "s3://${var.lake_bucket}" : "s3://${var.lake_bucket}/${local.prefix}"

  bucket_arn  = "arn:${local.partition}:s3:::${var.lake_bucket}"
  objects_arn = "${local.bucket_arn}/${local.key_root}*"

  log_group_name = "/aws/lambda/${var.function_name}"
  log_group_arn  = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"

  self_arn = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${var.function_name}"
  invoke_arns = distinct(concat(
    var.allow_invoke_arns,
    var.allow_self_invoke ? [local.self_arn, "${local.self_arn}:*"] : [],
  ))

  cache_max = coalesce(var.cache_max, "${floor(var.ephemeral_storage_mb / 2)}MB")

  # cache_max and log_level are defaults that `environment` may override; QUACK_LAKE is not.
  environment = merge({
    QUACK_CACHE_MAX = local.cache_max
    QUACK_LOG_LEVEL = var.log_level
  }, var.environment, { QUACK_LAKE = local.lake_uri })
}

# Created here (not by Lambda on first use) so that retention is set and the role needs no
# logs:CreateLogGroup on a wider resource.
resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.function_name}-role"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogGroup"]
    resources = [local.log_group_arn]
  }

  statement {
    sid       = "OwnLogStreams"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arn}:*"]
  }

  # Objects below the lake root: read, write (single and multipart uploads, Delta commits with
  # If-None-Match), delete (vacuum, lake rm, spilled partials), and abort of failed multipart
  # uploads (src/store/s3.c aborts them; without this they linger and are billed).
  statement {
    sid = "LakeObjects"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
    ]
    resources = [local.objects_arn]
  }

  # LIST only below the lake root (globs, partitions, Delta logs). With no prefix the whole
  # bucket is the lake and no condition applies.
  statement {
    sid       = "LakeList"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    dynamic "condition" {
      for_each = local.prefix == "" ? [] : [1]
      content {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = [local.prefix, "${local.prefix}/*"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "LakeKms"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = length(local.invoke_arns) == 0 ? [] : [local.invoke_arns]
    content {
      sid       = "FanOut"
      actions   = ["lambda:InvokeFunction"]
      resources = statement.value
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.function_name}-lake"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  function_name = var.function_name
  description   = "quack: SQL over the lake ${local.lake_uri}"
  role          = aws_iam_role.this.arn
  package_type  = "Image"
  image_uri     = var.image_uri
  architectures = [var.architecture]
  memory_size   = var.memory_size
  timeout       = var.timeout

  reserved_concurrent_executions = var.reserved_concurrent_executions

  ephemeral_storage {
    size = var.ephemeral_storage_mb
  }

  environment {
    variables = local.environment
  }

  tags = var.tags

  # The first invocation must be able to log and read the lake.
  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}
