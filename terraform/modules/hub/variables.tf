variable "name" {
  description = "Prefix of every resource's name (queue, dead-letter queue, event bus, rule, IAM policy)."
  type        = string
  default     = "secbot"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,40}$", var.name))
    error_message = "name: 1 to 40 letters, digits, hyphens or underscores."
  }
}

variable "organization_id" {
  description = "The AWS Organizations ID (o-…) whose accounts may deliver events to the hub's event bus."
  type        = string

  validation {
    condition     = can(regex("^o-[a-z0-9]{10,32}$", var.organization_id))
    error_message = "organization_id must look like o-abcd123456."
  }
}

variable "event_bus_delivery" {
  description = "Create the hub event bus that collectors forward to (the recommended delivery path)."
  type        = bool
  default     = true
}

variable "sns_collector_account_ids" {
  description = "Accounts that deliver through an SNS topic instead (the alternative path): the queue admits exactly their topics named sns_topic_name."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.sns_collector_account_ids : can(regex("^[0-9]{12}$", a))])
    error_message = "sns_collector_account_ids: 12-digit AWS account IDs."
  }
}

variable "sns_topic_name" {
  description = "Name of the collectors' SNS topic (the collector module's sns_topic_name)."
  type        = string
  default     = "secbot-cloudtrail"
}

variable "kms_key_arn" {
  description = <<-EOT
    Customer managed KMS key for the queues and the table. null (the default): SQS-managed encryption
    (SSE-SQS) for the queues and DynamoDB's AWS owned key for the table — encrypted at rest, with no key
    policy to maintain. With a key, its policy must let events.amazonaws.com (and sns.amazonaws.com when
    SNS delivery is used) call kms:GenerateDataKey and kms:Decrypt, or deliveries fail; the output
    kms_key_policy_statements gives the statements to add.
  EOT
  type        = string
  default     = null
}

variable "table_name" {
  description = "The DynamoDB table (secbot's SECBOT_TABLE)."
  type        = string
  default     = "secbot"
}

variable "visibility_timeout_seconds" {
  description = <<-EOT
    The queue's default visibility timeout. secbot asks for 60 s on every receive and extends a batch it
    is still working on (to 240 s), so this default only applies to other readers (the console, the CLI);
    120 s is twice secbot's own receive window.
  EOT
  type        = number
  default     = 120
}

variable "receive_wait_time_seconds" {
  description = <<-EOT
    Default long-poll wait. secbot sends WaitTimeSeconds=1 itself: long polling (every SQS server is
    asked, so no false empty answers) but short, because a drain run ends at the first empty receive.
  EOT
  type        = number
  default     = 1
}

variable "message_retention_seconds" {
  description = "How long an undrained event is kept (14 days, the maximum: secbot can be down over a long weekend and lose nothing)."
  type        = number
  default     = 1209600
}

variable "max_receive_count" {
  description = "Receives before a message moves to the dead-letter queue (3, as the embedded queue)."
  type        = number
  default     = 3
}

variable "secbot_role_names" {
  description = "IAM roles that run secbot (ECS task role, IRSA role, instance role…): the secbot policy is attached to each."
  type        = list(string)
  default     = []
}

variable "deletion_protection" {
  description = "Protect the table from deletion (turn off only to destroy a test deployment)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "mirror_queue_arns" {
  description = "Other queues the hub bus rule also delivers every event to: a shadow deployment (a second instance of this module) that tries new rules on the live stream."
  type        = list(string)
  default     = []
}

variable "sender_rule_arns" {
  description = "EventBridge rules of another hub allowed to send to this queue (for a shadow deployment: the main hub's queue_rule_arn)."
  type        = list(string)
  default     = []
}

variable "alarm_actions" {
  description = "Where the hub's alarms notify (SNS topic ARNs, e.g. one your on-call tooling reads). Empty: the alarms exist but notify nobody."
  type        = list(string)
  default     = []
}

variable "max_queue_age_seconds" {
  description = "Alarm when the oldest undrained event is older than this. secbot drains every 15 s by default, so minutes mean it is down or stuck."
  type        = number
  default     = 300
}

variable "remediation_role_name" {
  description = "SECBOT_REMEDIATION_ROLE: the role secbot assumes in a call's account for one-click remediation (the same name in every account). null: remediation off, no sts:AssumeRole granted."
  type        = string
  default     = null
}
