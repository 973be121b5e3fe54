output "rule_arns" {
  description = "The EventBridge rules, one per pattern."
  value       = [for r in aws_cloudwatch_event_rule.cloudtrail : r.arn]
}

output "sns_topic_arn" {
  description = "The topic (delivery = \"sns\"), else null."
  value       = local.use_sns ? aws_sns_topic.cloudtrail[0].arn : null
}

output "heartbeat_rule_arn" {
  description = "The heartbeat's scheduled rule (null with heartbeat = false)."
  value       = var.heartbeat ? aws_cloudwatch_event_rule.heartbeat[0].arn : null
}
