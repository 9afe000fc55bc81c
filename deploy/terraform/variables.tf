# variables.tf: inputs of the quack Lambda module. Only function_name, image_uri and lake_bucket
# are required; the rest have defaults sized for a map worker over a Parquet lake.

variable "function_name" {
  description = "Name of the Lambda function (also names its IAM role and log group)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name: 1-64 letters, digits, '-' or '_'."
  }
}

variable "image_uri" {
  description = "ECR image URI of the quack image built from deploy/Dockerfile (repo:tag or repo@sha256:digest; a digest makes deploys reproducible)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/[^:@]+(:[^@]+|@sha256:[0-9a-f]{64})$", var.image_uri))
    error_message = "image_uri: an Amazon ECR image, ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG or REPO@sha256:DIGEST (Lambda runs images from ECR only)."
  }
}

variable "lake_bucket" {
  description = "S3 bucket that holds the lake."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.lake_bucket))
    error_message = "lake_bucket: a bucket name only (no s3://, no slash)."
  }
}

variable "lake_prefix" {
  description = "Key prefix of the lake root inside lake_bucket, without slashes at either end (\"\" = the whole bucket). The function may read, write and delete only below it."
  type        = string
  default     = ""

  validation {
    condition     = !can(regex("[*?]", var.lake_prefix))
    error_message = "lake_prefix: no wildcards; it is used verbatim in IAM resources and conditions."
  }
}

variable "memory_size" {
  description = "Memory in MB (CPU share grows with it: about one vCPU per 1769 MB). DuckDB's default memory limit is 80% of it."
  type        = number
  default     = 2048

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size: 128 to 10240 MB."
  }
}

variable "timeout" {
  description = "Timeout in seconds of one invocation (a map task or a seed query)."
  type        = number
  default     = 60

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout: 1 to 900 seconds."
  }
}

variable "architecture" {
  description = "Instruction set. Only x86_64: the image pins DuckDB's linux-x64 libduckdb.so."
  type        = string
  default     = "x86_64"

  validation {
    condition     = var.architecture == "x86_64"
    error_message = "architecture: only x86_64 is supported (deploy/Dockerfile builds linux/amd64)."
  }
}

variable "ephemeral_storage_mb" {
  description = "Size of /tmp in MB (512-10240). quack keeps its object cache and DuckDB's spill files there."
  type        = number
  default     = 2048

  validation {
    condition     = var.ephemeral_storage_mb >= 512 && var.ephemeral_storage_mb <= 10240
    error_message = "ephemeral_storage_mb: 512 to 10240."
  }
}

variable "cache_max" {
  description = "QUACK_CACHE_MAX (e.g. \"1GB\"). Default: half of ephemeral_storage_mb, leaving the rest of /tmp for DuckDB's spill files."
  type        = string
  default     = null
}

variable "log_level" {
  description = "QUACK_LOG_LEVEL: debug, info, warn, error or off."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error", "off"], var.log_level)
    error_message = "log_level: debug, info, warn, error or off."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's CloudWatch log group (0 = never expire)."
  type        = number
  default     = 14
}

variable "environment" {
  description = "Extra environment variables (QUACK_* settings, AWS_ENDPOINT_URL_S3, ...). Lambda's reserved names (AWS_REGION, AWS_ACCESS_KEY_ID, AWS_LAMBDA_*, ...) are set by Lambda and cannot be given."
  type        = map(string)
  default     = {}

  validation {
    condition = length([for k in keys(var.environment) : k if contains([
      "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
      "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
      "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "QUACK_LAKE",
    ], k) || startswith(k, "AWS_LAMBDA_")]) == 0
    error_message = "environment: reserved by Lambda (AWS_REGION, credentials, AWS_LAMBDA_*, LAMBDA_*), or QUACK_LAKE, which the module sets from lake_bucket/lake_prefix."
  }
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for (and capping) this function; -1 = no reservation. Caps the fan-out of distributed queries and the cost of a runaway trigger."
  type        = number
  default     = -1
}

variable "s3_trigger_prefix" {
  description = "When set, objects created under LAKE_PREFIX/<this> invoke the function (S3 ObjectCreated). Relative to the lake root, e.g. \"raw/\". Must not cover keys the function writes, or it triggers itself."
  type        = string
  default     = null

  validation {
    condition     = var.s3_trigger_prefix == null ? true : length(trim(var.s3_trigger_prefix, "/ ")) > 0
    error_message = "s3_trigger_prefix: a non-empty prefix such as \"raw/\" (the whole lake would include quack's own writes and loop)."
  }
}

variable "s3_trigger_suffix" {
  description = "Optional key suffix filter for the S3 trigger, e.g. \".parquet\"."
  type        = string
  default     = ""
}

variable "allow_invoke_arns" {
  description = "Lambda function ARNs this function may invoke (lambda:InvokeFunction): set when it runs as a distributed-query coordinator that fans out to worker functions."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.allow_invoke_arns : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+|:\\*)?$", a))])
    error_message = "allow_invoke_arns: Lambda function ARNs (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER|:*])."
  }
}

variable "allow_self_invoke" {
  description = "Let the function invoke itself (a coordinator whose workers are the same function)."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "KMS key ARN if the lake bucket uses SSE-KMS with a customer managed key (adds kms:Decrypt and kms:GenerateDataKey on that key only)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource the module creates."
  type        = map(string)
  default     = {}
}
