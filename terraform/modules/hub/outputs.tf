output "queue_url" {
  description = "SECBOT_QUEUE_URL"
  value       = aws_sqs_queue.events.id
}

output "queue_arn" {
  description = "The events queue (the collector module's hub_queue_arn when delivering through SNS)."
  value       = aws_sqs_queue.events.arn
}

output "dead_letter_queue_url" {
  value = aws_sqs_queue.dead_letter.id
}

output "dead_letter_queue_arn" {
  value = aws_sqs_queue.dead_letter.arn
}

output "table_name" {
  description = "SECBOT_TABLE"
  value       = aws_dynamodb_table.secbot.name
}

output "table_arn" {
  value = aws_dynamodb_table.secbot.arn
}

output "event_bus_arn" {
  description = "The hub event bus (the collector module's hub_event_bus_arn); null without event_bus_delivery."
  value       = var.event_bus_delivery ? aws_cloudwatch_event_bus.hub[0].arn : null
}

output "queue_rule_arn" {
  description = "The hub bus rule that feeds the queue (a shadow hub's sender_rule_arns); null without event_bus_delivery."
  value       = var.event_bus_delivery ? aws_cloudwatch_event_rule.to_queue[0].arn : null
}

output "secbot_policy_arn" {
  description = "The least-privilege policy for the role that runs secbot."
  value       = aws_iam_policy.secbot.arn
}

output "secbot_policy_json" {
  value = data.aws_iam_policy_document.secbot.json
}

output "secbot_environment" {
  description = "secbot's AWS settings (add the Slack, Duo and PagerDuty ones)."
  value = {
    SECBOT_QUEUE_URL = aws_sqs_queue.events.id
    SECBOT_TABLE     = aws_dynamodb_table.secbot.name
    AWS_REGION       = split(":", aws_sqs_queue.events.arn)[3]
  }
}

output "kms_key_policy_statements" {
  description = "With kms_key_arn: the statements its key policy needs so EventBridge and SNS can deliver to the encrypted queue."
  value = var.kms_key_arn == null ? null : jsonencode(concat(
    var.event_bus_delivery ? [{
      Sid       = "SecbotEventBridgeDelivery"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = ["kms:GenerateDataKey", "kms:Decrypt"]
      Resource  = "*"
      Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.to_queue[0].arn } }
    }] : [],
    length(var.sns_collector_account_ids) > 0 ? [{
      Sid       = "SecbotSnsDelivery"
      Effect    = "Allow"
      Principal = { Service = "sns.amazonaws.com" }
      Action    = ["kms:GenerateDataKey", "kms:Decrypt"]
      Resource  = "*"
      Condition = { StringEquals = { "aws:SourceAccount" = var.sns_collector_account_ids } }
    }] : [],
  ))
}
