# s3_trigger.tf: optional S3 ObjectCreated trigger (set s3_trigger_prefix). quack's runtime hands
# the event's records to its object-event hook (the ETL issue fills it; until then it logs and
# acknowledges).
#
# Caution: aws_s3_bucket_notification owns the bucket's WHOLE notification configuration. Applying
# it replaces any other notifications on lake_bucket; if the bucket has some, manage them all in
# one aws_s3_bucket_notification outside this module instead.

locals {
  trigger            = var.s3_trigger_prefix != null
  trigger_key_prefix = local.trigger ? "${local.key_root}${trimprefix(var.s3_trigger_prefix, "/")}" : null
}

resource "aws_lambda_permission" "s3" {
  count = local.trigger ? 1 : 0

  statement_id   = "AllowLakeBucketObjectCreated"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = local.bucket_arn
  source_account = local.account_id # guards against a same-named bucket in another account
}

resource "aws_s3_bucket_notification" "this" {
  count = local.trigger ? 1 : 0

  bucket = var.lake_bucket

  lambda_function {
    id                  = "${var.function_name}-object-created"
    lambda_function_arn = aws_lambda_function.this.arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = local.trigger_key_prefix
    filter_suffix       = var.s3_trigger_suffix == "" ? null : var.s3_trigger_suffix
  }

  depends_on = [aws_lambda_permission.s3]
}
