variable "name" {
  description = "Prefix of every resource's name."
  type        = string
  default     = "secbot"
}

variable "event_pattern" {
  description = <<-EOT
    The EventBridge pattern(s) generated from secbot's rules: the contents of the file written by
    `npm run pattern:write` (`secbot eventbridge-pattern --split 2048`), a JSON array of patterns, one
    EventBridge rule each. A single pattern object is accepted too.
  EOT
  type        = string

  validation {
    condition     = can(jsondecode(var.event_pattern))
    error_message = "event_pattern must be JSON: the output of secbot eventbridge-pattern --split 2048."
  }
}

variable "max_pattern_chars" {
  description = "EventBridge's limit on one rule's pattern: 2048 by default, up to 4096 after a quota increase."
  type        = number
  default     = 2048
}

variable "delivery" {
  description = "How events reach the security account: \"event_bus\" (recommended: to the hub's event bus) or \"sns\" (an encrypted SNS topic the hub queue subscribes to)."
  type        = string
  default     = "event_bus"

  validation {
    condition     = contains(["event_bus", "sns"], var.delivery)
    error_message = "delivery must be \"event_bus\" or \"sns\"."
  }
}

variable "hub_event_bus_arn" {
  description = "The hub module's event_bus_arn (delivery = \"event_bus\")."
  type        = string
  default     = null
}

variable "hub_queue_arn" {
  description = "The hub module's queue_arn (delivery = \"sns\")."
  type        = string
  default     = null
}

variable "sns_topic_name" {
  description = "The topic's name (delivery = \"sns\"); the hub module admits topics of this name from its sns_collector_account_ids."
  type        = string
  default     = "secbot-cloudtrail"
}

variable "kms_key_arn" {
  description = "Customer managed key for the SNS topic (delivery = \"sns\"). null: the module creates one whose policy lets EventBridge publish (the AWS managed aws/sns key cannot)."
  type        = string
  default     = null
}

variable "include_read_only_events" {
  description = "Deliver read-only calls (Get*, List*, Describe*) too: several bundled rules match such calls (GetSecretValue, GetPasswordData…)."
  type        = bool
  default     = true
}

variable "heartbeat" {
  description = "Send a heartbeat through the delivery path (secbot alerts and pages when an account that used to send one falls silent). Keep it on in at least one region per account; secbot tracks the newest heartbeat per account, whatever its region."
  type        = bool
  default     = true
}

variable "heartbeat_schedule" {
  description = "How often the heartbeat is sent: an EventBridge schedule expression. secbot's SECBOT_HEARTBEAT_LATE (default 15m) must be a few times longer."
  type        = string
  default     = "rate(5 minutes)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.heartbeat_schedule))
    error_message = "heartbeat_schedule must be an EventBridge schedule expression such as rate(5 minutes)."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
