# outputs.tf: what callers wire to (the coordinator's --lambda FUNCTION, other policies).

output "function_name" {
  description = "Name of the function (quack query --distributed --lambda NAME)."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the function (for allow_invoke_arns of a coordinator, or IAM policies of callers)."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the execution role (to attach further policies)."
  value       = aws_iam_role.this.name
}

output "log_group_name" {
  description = "CloudWatch log group of the function."
  value       = aws_cloudwatch_log_group.this.name
}

output "lake_uri" {
  description = "QUACK_LAKE as the function sees it."
  value       = local.lake_uri
}
