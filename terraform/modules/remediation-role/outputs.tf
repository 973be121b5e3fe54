output "role_arn" {
  description = "The remediation role in this account."
  value       = aws_iam_role.remediation.arn
}

output "role_name" {
  description = "SECBOT_REMEDIATION_ROLE (the same name in every workload account)."
  value       = aws_iam_role.remediation.name
}

output "policy_json" {
  description = "What the role may do: only the calls secbot's remediations make."
  value       = data.aws_iam_policy_document.remediation.json
}
