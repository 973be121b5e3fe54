variable "name" {
  description = "The role's name: the same in every workload account, and secbot's SECBOT_REMEDIATION_ROLE."
  type        = string
  default     = "secbot-remediation"

  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,64}$", var.name))
    error_message = "name must be an IAM role name (1 to 64 of letters, digits and +=,.@_-)."
  }
}

variable "secbot_role_arn" {
  description = "The IAM role secbot runs as in the security account: the only principal this role trusts."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.secbot_role_arn))
    error_message = "secbot_role_arn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)."
  }
}

variable "protected_role_arns" {
  description = <<-EOT
    Roles in this account secbot must never quarantine or strip of policies (break-glass and
    organization access roles, for example). This role itself is always protected.
  EOT
  type        = list(string)
  default     = []
}

variable "permissions_boundary_arn" {
  description = "Optional permissions boundary for the role (organizations that require one on every role)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the role."
  type        = map(string)
  default     = {}
}
