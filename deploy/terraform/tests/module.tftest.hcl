# tests/module.tftest.hcl: `terraform test` for the module (Terraform >= 1.7). Plan only, no AWS
# account: the provider gets placeholder credentials and skips every call it would make at
# configure time; the one data source that would call AWS (caller identity) is overridden. The
# assertions read the planned IAM policy, environment and trigger. Run by deploy/check.sh.

provider "aws" {
  region                      = "eu-west-1"
  access_key                  = "placeholder"
  secret_key                  = "placeholder"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}

override_data {
  target = data.aws_caller_identity.current
  values = {
    account_id = "123456789012"
  }
}

variables {
  function_name = "quack-test"
  image_uri     = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/quack:v1"
  lake_bucket   = "my-lake"
  lake_prefix   = "/demo/"
}

run "defaults" {
  command = plan

  assert {
    condition     = aws_lambda_function.this.environment[0].variables["QUACK_LAKE"] == "s3://my-lake/demo"
    error_message = "QUACK_LAKE must be s3://bucket/prefix with the slashes trimmed"
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["QUACK_CACHE_MAX"] == "1024MB"
    error_message = "QUACK_CACHE_MAX defaults to half of the ephemeral storage"
  }
  assert {
    condition     = aws_lambda_function.this.package_type == "Image" && aws_lambda_function.this.memory_size == 2048 && aws_lambda_function.this.timeout == 60
    error_message = "image package, 2048 MB, 60 s by default"
  }
  assert {
    condition     = aws_lambda_function.this.architectures == tolist(["x86_64"])
    error_message = "x86_64 only"
  }
  assert {
    condition     = aws_lambda_function.this.ephemeral_storage[0].size == 2048
    error_message = "ephemeral storage defaults to 2048 MB"
  }
  assert {
    condition     = length(aws_s3_bucket_notification.this) == 0 && length(aws_lambda_permission.s3) == 0
    error_message = "no trigger unless s3_trigger_prefix is set"
  }

  # The policy, statement by statement.
  assert {
    condition = {
      for s in jsondecode(data.aws_iam_policy_document.this.json).Statement : s.Sid => s
    }["LakeObjects"].Resource == "arn:aws:s3:::my-lake/demo/*"
    error_message = "object access only below the lake prefix"
  }
  assert {
    condition = toset({
      for s in jsondecode(data.aws_iam_policy_document.this.json).Statement : s.Sid => s
      }["LakeObjects"].Action) == toset([
      "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"
    ])
    error_message = "object actions: get, put, delete, abort multipart"
  }
  assert {
    condition = {
      for s in jsondecode(data.aws_iam_policy_document.this.json).Statement : s.Sid => s
    }["LakeList"].Resource == "arn:aws:s3:::my-lake"
    error_message = "ListBucket on the bucket"
  }
  assert {
    condition = toset({
      for s in jsondecode(data.aws_iam_policy_document.this.json).Statement : s.Sid => s
    }["LakeList"].Condition.StringLike["s3:prefix"]) == toset(["demo", "demo/*"])
    error_message = "ListBucket limited to the lake prefix"
  }
  assert {
    condition = {
      for s in jsondecode(data.aws_iam_policy_document.this.json).Statement : s.Sid => s
    }["OwnLogStreams"].Resource == "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/quack-test:*"
    error_message = "logs only in the function's own log group"
  }
  assert {
    condition = length([
      for s in jsondecode(data.aws_iam_policy_document.this.json).Statement : s
      if contains(["FanOut", "LakeKms"], s.Sid)
    ]) == 0
    error_message = "no lambda:InvokeFunction and no KMS unless asked"
  }
  assert {
    condition = alltrue([
      for s in jsondecode(data.aws_iam_policy_document.this.json).Statement :
      !anytrue([for a in flatten([s.Action]) : strcontains(a, "*")])
    ])
    error_message = "no wildcard actions"
  }
}

run "whole_bucket" {
  command = plan

  variables {
    lake_prefix = ""
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables["QUACK_LAKE"] == "s3://my-lake"
    error_message = "QUACK_LAKE without a prefix"
  }
  assert {
    condition = !can({
      for s in jsondecode(data.aws_iam_policy_document.this.json).Statement : s.Sid => s
    }["LakeList"].Condition)
    error_message = "no prefix condition when the lake is the whole bucket"
  }
}

run "trigger_fanout_kms" {
  command = plan

  variables {
    s3_trigger_prefix = "raw/"
    s3_trigger_suffix = ".parquet"
    allow_self_invoke = true
    allow_invoke_arns = ["arn:aws:lambda:eu-west-1:123456789012:function:quack-worker"]
    kms_key_arn       = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    cache_max         = "700MB"
    environment       = { QUACK_S3_PARALLEL = "32", QUACK_LOG_LEVEL = "debug" }
  }

  assert {
    condition     = aws_s3_bucket_notification.this[0].lambda_function[0].filter_prefix == "demo/raw/"
    error_message = "trigger prefix is relative to the lake root"
  }
  assert {
    condition     = aws_s3_bucket_notification.this[0].lambda_function[0].filter_suffix == ".parquet"
    error_message = "trigger suffix"
  }
  assert {
    condition     = aws_s3_bucket_notification.this[0].lambda_function[0].events == toset(["s3:ObjectCreated:*"])
    error_message = "ObjectCreated events only"
  }
  assert {
    condition     = aws_lambda_permission.s3[0].principal == "s3.amazonaws.com" && aws_lambda_permission.s3[0].source_arn == "arn:aws:s3:::my-lake" && aws_lambda_permission.s3[0].source_account == "123456789012"
    error_message = "S3 may invoke the function, from this bucket and account only"
  }
  assert {
    condition = toset({
      for s in jsondecode(data.aws_iam_policy_document.this.json).Statement : s.Sid => s
      }["FanOut"].Resource) == toset([
      "arn:aws:lambda:eu-west-1:123456789012:function:quack-worker",
      "arn:aws:lambda:eu-west-1:123456789012:function:quack-test",
      "arn:aws:lambda:eu-west-1:123456789012:function:quack-test:*",
    ])
    error_message = "InvokeFunction only on the listed functions and itself"
  }
  assert {
    condition = {
      for s in jsondecode(data.aws_iam_policy_document.this.json).Statement : s.Sid => s
    }["LakeKms"].Resource == "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    error_message = "KMS only on the given key"
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["QUACK_CACHE_MAX"] == "700MB" && aws_lambda_function.this.environment[0].variables["QUACK_S3_PARALLEL"] == "32" && aws_lambda_function.this.environment[0].variables["QUACK_LOG_LEVEL"] == "debug"
    error_message = "cache_max and extra environment pass through (environment overrides log_level)"
  }
}

run "rejects_whole_lake_trigger" {
  command = plan

  variables {
    s3_trigger_prefix = "/"
  }

  expect_failures = [var.s3_trigger_prefix]
}

run "rejects_reserved_environment" {
  command = plan

  variables {
    environment = { AWS_REGION = "us-east-1" }
  }

  expect_failures = [var.environment]
}

run "rejects_arm64" {
  command = plan

  variables {
    architecture = "arm64"
  }

  expect_failures = [var.architecture]
}

run "rejects_non_ecr_image" {
  command = plan

  variables {
    image_uri = "docker.io/library/quack:latest"
  }

  expect_failures = [var.image_uri]
}
