variable "organization_id" {
  description = "The organization (o-…)."
  type        = string
}

variable "security_account_id" {
  description = "The security account: the hub (queue, table, event bus) and secbot itself."
  type        = string
}

variable "workload_a_account_id" {
  description = "A workload account that delivers through the hub event bus (recommended)."
  type        = string
}

variable "workload_b_account_id" {
  description = "A workload account that delivers through SNS (the alternative, shown for completeness)."
  type        = string
}

variable "region" {
  description = "The region of the hub and the collectors. us-east-1 also receives the global services' calls (IAM, STS, sign-in, Organizations); add collectors for every other region you use."
  type        = string
  default     = "us-east-1"
}

variable "deploy_role_name" {
  description = "The role Terraform assumes in each account."
  type        = string
  default     = "OrganizationAccountAccessRole"
}

variable "secbot_role_names" {
  description = "Roles in the security account that run secbot (they get the hub's least-privilege policy)."
  type        = list(string)
  default     = []
}

variable "shadow" {
  description = "Also deploy a shadow hub (its own queue and table, fed a copy of every event) for trying new rules with SECBOT_SHADOW=true."
  type        = bool
  default     = false
}

variable "remediation_role_name" {
  description = "SECBOT_REMEDIATION_ROLE, if one-click remediation is on: secbot may assume this role in the organization's accounts."
  type        = string
  default     = null
}
