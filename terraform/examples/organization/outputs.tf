output "secbot_environment" {
  description = "secbot's AWS settings: set them (with the Slack, Duo and PagerDuty ones) where secbot runs."
  value       = module.hub.secbot_environment
}

output "shadow_environment" {
  description = "The shadow secbot's AWS settings (with SECBOT_SHADOW=true and SECBOT_RULES=<candidate rules>)."
  value       = var.shadow ? module.hub_shadow[0].secbot_environment : null
}

output "secbot_policy_arn" {
  value = module.hub.secbot_policy_arn
}

output "collector_rules" {
  value = {
    workload_a = module.collector_workload_a.rule_arns
    workload_b = module.collector_workload_b.rule_arns
  }
}
